"""Who owns the output folder, alone and without training: the previous-run
policy (the showcase, a run that never finished an epoch, a finished run,
--overwrite), and claiming (what is deleted, what is never touched)."""

import hashlib
import json
import os
import shutil

import pytest

from conftest import snapshot
from pyimagesearch.errors import UsageError
from pyimagesearch.files import FolderBusy
from pyimagesearch.training.output_folder import OutputFolder, run_files


def a_run(folder, status="finished", losses=1, checkpoint=True):
    """What a run leaves: run.json with `status` and `losses` epochs, two
    montages, history.csv, and checkpoint.pt unless told otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(
        {"status": status, "losses": [{"epoch": e + 1} for e in range(losses)]}))
    for name in ("epoch_0001.png", "epoch_0002.png", "history.csv"):
        (folder / name).write_bytes(b"x")
    if checkpoint:
        (folder / "checkpoint.pt").write_bytes(b"PK")
    return folder


def test_a_folder_that_does_not_exist_or_is_empty_has_nothing_to_replace(tmp_path):
    assert OutputFolder(str(tmp_path / "new")).plan(overwrite=False) == []
    (tmp_path / "empty").mkdir()
    assert OutputFolder(str(tmp_path / "empty")).plan(overwrite=False) == []


def test_a_finished_run_is_refused_naming_its_files_and_the_ways_out(tmp_path):
    out = a_run(tmp_path / "o")
    with pytest.raises(UsageError) as refused:
        OutputFolder(str(out)).plan(overwrite=False)
    said = str(refused.value)
    assert said.startswith("argument -o/--output: ")
    assert "checkpoint.pt, run.json, history.csv, epoch_0001.png, ..." in said
    assert "--resume" in said and "--overwrite" in said


def test_overwrite_replaces_exactly_the_previous_runs_files(tmp_path):
    out = a_run(tmp_path / "o")
    (out / "notes.txt").write_text("mine")
    folder = OutputFolder(str(out))
    assert sorted(folder.plan(overwrite=True)) == sorted(
        ["checkpoint.pt", "run.json", "history.csv", "epoch_0001.png", "epoch_0002.png"])
    assert folder.notice.startswith(f"--overwrite: the previous run's 5 files in {out} are set aside")
    before = snapshot(out)
    folder.claim(newRun=True)
    assert snapshot(out) == {"notes.txt": before["notes.txt"]}


@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_a_run_that_never_finished_an_epoch_is_started_over(tmp_path, status):
    out = a_run(tmp_path / "o", status=status, losses=0, checkpoint=False)
    folder = OutputFolder(str(out))
    assert len(folder.plan(overwrite=False)) == 4
    assert "stopped before its first epoch ended" in folder.notice


@pytest.mark.parametrize("case", ["finished-status", "an-epoch", "a-checkpoint", "no-record",
                                  "torn-record"])
def test_anything_else_counts_as_a_run_to_keep(tmp_path, case):
    out = a_run(tmp_path / "o", status="finished" if case == "finished-status" else "running",
                losses=1 if case == "an-epoch" else 0, checkpoint=case == "a-checkpoint")
    if case == "no-record":
        (out / "run.json").unlink()
    if case == "torn-record":
        (out / "run.json").write_text('{"status": "runn')
    with pytest.raises(UsageError):
        OutputFolder(str(out)).plan(overwrite=False)


def test_the_showcase_is_replaced_with_its_marker(tmp_path):
    out = a_run(tmp_path / "output", checkpoint=False)      # as committed: no weights
    (out / "SHOWCASE.md").write_text("the sample run")
    folder = OutputFolder(str(out))
    assert "SHOWCASE.md" in folder.plan(overwrite=False)
    assert "showcase" in folder.notice and "git checkout --" in folder.notice


@pytest.mark.parametrize("weights", ["checkpoint.pt", "generator.pth", "generator_ema.pth",
                                     "generator_best.pth"])
def test_a_copy_of_the_showcase_marker_beside_a_real_run_is_no_showcase(tmp_path, weights):
    out = a_run(tmp_path / "o", checkpoint=False)
    (out / weights).write_bytes(b"PK")
    (out / "SHOWCASE.md").write_text("copied from the repository")
    with pytest.raises(UsageError, match="already holds another run's results"):
        OutputFolder(str(out)).plan(overwrite=False)


def test_overwrite_sets_the_previous_run_aside_until_the_first_epoch_is_saved(tmp_path):
    out = a_run(tmp_path / "o")
    before = snapshot(out)
    folder = OutputFolder(str(out))
    folder.plan(overwrite=True)
    folder.claim(newRun=True)
    aside = snapshot(out / ".previous-run")
    assert snapshot(out) == {} and aside.pop(".complete") is not None and aside == before
    (out / "run.json").write_text("{}")                     # the new run's first files
    (out / "epoch_0001.png").write_bytes(b"new")
    folder.saved_an_epoch()
    assert not (out / ".previous-run").exists()
    assert sorted(snapshot(out)) == ["epoch_0001.png", "run.json"]


def test_a_run_that_ends_before_its_first_epoch_gives_the_previous_run_back(tmp_path):
    out = a_run(tmp_path / "o")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    folder = OutputFolder(str(out))
    folder.plan(overwrite=True)
    folder.claim(newRun=True)
    (out / "run.json").write_text('{"status": "running"}')  # the new run's, then it fails
    (out / "epoch_0001.png").write_bytes(b"new")
    assert folder.give_back() == f"the previous run's files are back in {out}, as they were"
    assert snapshot(out) == before and not (out / ".previous-run").exists()
    assert folder.give_back() is None                         # once


def tree(folder):
    """{relative path: sha256} of every file below `folder`, subfolders too."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def killed_overwrite(out, tensorboard=False):
    """An --overwrite of a finished run in `out`, killed after claiming the
    folder, once the new run wrote its first files (and no checkpoint)."""
    a_run(out)
    if tensorboard:
        (out / "tensorboard").mkdir()
        (out / "tensorboard" / "events.out.tfevents.1.old").write_bytes(b"old curves")
    before = tree(out)
    folder = OutputFolder(str(out))
    folder.plan(overwrite=True)
    folder.claim(newRun=True)                                 # ... then SIGKILL
    (out / "run.json").write_text('{"status": "running", "losses": []}')
    (out / "epoch_0002.png").write_bytes(b"new")
    if tensorboard:
        (out / "tensorboard").mkdir()
        (out / "tensorboard" / "events.out.tfevents.2.new").write_bytes(b"new curves")
    return before


@pytest.mark.parametrize("tensorboard", [False, True])
def test_the_next_invocation_puts_back_a_run_a_killed_overwrite_set_aside(tmp_path, tensorboard):
    out = tmp_path / "o"
    before = killed_overwrite(out, tensorboard)
    folder = OutputFolder(str(out))
    said = folder.recover()
    assert said.startswith(f"{out}: put back the previous run") and "killed" in said
    assert tree(out) == before and not (out / ".previous-run").exists()
    assert folder.recover() is None                           # once
    with pytest.raises(UsageError, match="already holds another run's results"):
        folder.plan(overwrite=False)                          # then as for that run


def test_a_set_aside_killed_half_way_is_put_back_whole(tmp_path):
    out = a_run(tmp_path / "o")
    before = snapshot(out)
    (out / ".previous-run").mkdir()                           # claim killed after two moves
    for name in ("checkpoint.pt", "epoch_0001.png"):
        (out / name).rename(out / ".previous-run" / name)
    assert "put back" in OutputFolder(str(out)).recover()
    assert snapshot(out) == before and not (out / ".previous-run").exists()


def test_a_new_run_that_saved_its_first_epoch_keeps_it_and_the_old_one_goes(tmp_path):
    out = tmp_path / "o"
    killed_overwrite(out)
    (out / "checkpoint.pt").write_bytes(b"PK new")            # saved, killed before the delete
    new = {k: v for k, v in tree(out).items() if not k.startswith(".previous-run")}
    said = OutputFolder(str(out)).recover()
    assert "saved its first epoch" in said and "deleted" in said
    assert tree(out) == new and not (out / ".previous-run").exists()


def test_what_cannot_be_told_apart_is_left_for_the_user(tmp_path):
    out = a_run(tmp_path / "o")
    (out / ".previous-run").mkdir()                           # no marker, a name in both
    (out / ".previous-run" / "run.json").write_text('{"status": "finished"}')
    before = snapshot(out / ".previous-run")
    folder = OutputFolder(str(out))
    assert folder.recover() is None
    for overwrite in (False, True):
        with pytest.raises(UsageError, match="could not be put back by themselves"):
            folder.plan(overwrite=overwrite)
    assert snapshot(out / ".previous-run") == before


def test_the_default_tensorboard_folder_is_set_aside_and_given_back_with_the_run(tmp_path):
    out = a_run(tmp_path / "o")
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events.out.tfevents.1.old").write_bytes(b"old curves")
    before = tree(out)
    folder = OutputFolder(str(out))
    assert "tensorboard" in folder.plan(overwrite=True)
    folder.claim(newRun=True)
    assert not (out / "tensorboard").exists()
    (out / "tensorboard").mkdir()                             # the new run's events
    (out / "tensorboard" / "events.out.tfevents.2.new").write_bytes(b"new")
    assert "back" in folder.give_back()
    assert tree(out) == before


def test_claiming_creates_the_folder_and_removes_only_our_leftovers(tmp_path):
    out = tmp_path / "a" / "b"
    folder = OutputFolder(str(out))
    folder.plan(overwrite=False)
    out.mkdir(parents=True)
    (out / ".checkpoint.pt.abc12_89.tmp").write_bytes(b"torn")     # killed saves'
    (out / ".epoch_0002.png.x1y2z3w4.tmp").write_bytes(b"torn")
    users = [".notes.tmp", ".draft.tmp.png", ".x.tmp.gif", "mine.tmp", ".thesis.tex.abcdefgh.tmp"]
    for name in users:
        (out / name).write_bytes(b"a user's")
    folder.claim(newRun=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(users)
    folder.release()


def test_a_run_that_appeared_while_this_one_got_ready_is_not_touched(tmp_path):
    out = tmp_path / "o"
    folder = OutputFolder(str(out))
    assert folder.plan(overwrite=False) == []
    a_run(out)                                   # another process finished a run there
    before = snapshot(out)
    with pytest.raises(FolderBusy, match="received another run's files"):
        folder.claim(newRun=True)
    assert snapshot(out) == before
    folder.release()


def test_run_files_lists_the_run_files_then_the_montages(tmp_path):
    out = a_run(tmp_path / "o")
    (out / "epoch_00x.png.bak").write_bytes(b"")
    (out / "photo.png").write_bytes(b"")
    assert run_files(str(out)) == ["checkpoint.pt", "run.json", "history.csv",
                                   "epoch_0001.png", "epoch_0002.png"]


def test_a_give_back_killed_half_way_is_finished_not_taken_for_a_saved_epoch(tmp_path,
                                                                             monkeypatch):
    import pyimagesearch.training.output_folder as output_folder
    out = tmp_path / "o"
    before = killed_overwrite(out)
    folder = OutputFolder(str(out))
    folder.setAside = True                       # the new run fails before its first epoch
    real, moves = os.replace, []

    def killed_after_the_checkpoint(a, b):
        real(a, b)
        moves.append(b)
        if b.endswith("checkpoint.pt"):          # the old checkpoint is back: SIGKILL
            raise SystemExit("killed")
    monkeypatch.setattr(output_folder.os, "replace", killed_after_the_checkpoint)
    with pytest.raises(SystemExit):
        folder.give_back()
    monkeypatch.setattr(output_folder.os, "replace", real)
    assert "put back" in OutputFolder(str(out)).recover()
    assert tree(out) == before and not (out / ".previous-run").exists()


def test_a_kill_while_the_replaced_run_is_deleted_never_brings_a_part_back(tmp_path, monkeypatch):
    import pyimagesearch.training.output_folder as output_folder
    out = tmp_path / "o"
    killed_overwrite(out)
    folder = OutputFolder(str(out))
    folder.setAside = True
    (out / "checkpoint.pt").write_bytes(b"PK new")            # the new run's first epoch
    real = shutil.rmtree

    def killed_half_way(path, *args, **kwargs):
        os.remove(os.path.join(path, "history.csv"))          # a part deleted, then SIGKILL
        raise SystemExit("killed")
    monkeypatch.setattr(output_folder.shutil, "rmtree", killed_half_way)
    with pytest.raises(SystemExit):
        folder.saved_an_epoch()
    monkeypatch.setattr(output_folder.shutil, "rmtree", real)
    assert (out / ".previous-run.deleting").is_dir()          # renamed before the deleting
    new = {k: v for k, v in tree(out).items() if not k.startswith(".previous-run")}
    said = OutputFolder(str(out)).recover()
    assert "finished deleting" in said
    assert tree(out) == new                                   # the new run's files only


def test_a_signal_while_the_previous_run_is_set_aside_waits_and_it_comes_back(tmp_path,
                                                                              monkeypatch):
    import signal
    import pyimagesearch.training.output_folder as output_folder
    out = a_run(tmp_path / "o")
    before = tree(out)
    folder = OutputFolder(str(out))
    folder.plan(overwrite=True)
    real, calls = os.replace, []

    def interrupted_on_the_second(a, b):
        calls.append(a)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):                  # Python runs its handler here
                pass
        real(a, b)
    monkeypatch.setattr(output_folder.os, "replace", interrupted_on_the_second)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            folder.claim(newRun=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.setattr(output_folder.os, "replace", real)
    assert (out / ".previous-run" / ".complete").exists()      # every move done first
    assert "back" in folder.give_back()
    assert tree(out) == before


@pytest.mark.parametrize("case", ["events-at-the-root", "a-file-in-its-tensorboard",
                                  "its-tensorboard-a-link", "previous-run-a-file"])
def test_what_would_mix_or_lose_a_users_files_is_refused(tmp_path, case):
    out = tmp_path / "o"
    out.mkdir()
    if case == "events-at-the-root":          # another run's --tensorboard folder
        (out / "events.out.tfevents.1.host").write_bytes(b"x")
        said = "holds TensorBoard events of another run"
    elif case == "a-file-in-its-tensorboard":
        a_run(out)
        (out / "tensorboard").mkdir()
        (out / "tensorboard" / "digit_0000.png").write_bytes(b"mine")
        said = "holds other files"
    elif case == "its-tensorboard-a-link":
        a_run(out)
        (tmp_path / "elsewhere").mkdir()
        (out / "tensorboard").symlink_to(tmp_path / "elsewhere")
        said = "is a link"
    else:
        (out / ".previous-run").write_text("a note of mine")
        said = "is not a folder"
    before = tree(out)
    for overwrite in (False, True):
        with pytest.raises(UsageError, match=said):
            OutputFolder(str(out)).plan(overwrite=overwrite)
    assert tree(out) == before


def test_a_torn_marker_is_not_moved_into_the_folder(tmp_path):
    out = tmp_path / "o"
    before = killed_overwrite(out)
    os.remove(out / ".previous-run" / ".complete")           # killed while writing it
    (out / ".previous-run" / "..complete.abcd1234.tmp").write_bytes(b"")
    for name in ("run.json", "epoch_0002.png"):               # (the new run had not begun)
        os.remove(out / name)
    assert "put back" in OutputFolder(str(out)).recover()
    assert tree(out) == before
