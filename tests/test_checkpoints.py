"""Checkpoints, exact resume, refusing to mix runs, history and plots."""

import csv
import json
import os
import signal
import time

import pytest
import torch
from PIL import Image

from conftest import load, one_line, start, train, wait_for
from pyimagesearch.checkpoint import TrainedWith, load_checkpoint, trained_with
from pyimagesearch.files import WriteError, save_torch, write_atomic


def same_tensors(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_stop_and_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, tiny_data):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert train(whole, tiny_data, "-e", "2", "-b", "16").returncode == 0
    first = train(parts, tiny_data, "-e", "2", "-b", "16", "--stop-after", "1")
    assert first.returncode == 0 and "--resume" in first.stdout
    assert load_checkpoint(parts / "checkpoint.pt").epoch == 1
    second = train(parts, tiny_data, "--resume")        # the rest from the checkpoint
    assert second.returncode == 0, second.stderr
    assert "starting epoch 2 of 2" in second.stdout
    assert "starting epoch 1 of" not in second.stdout

    a, b = load(whole / "checkpoint.pt"), load(parts / "checkpoint.pt")
    assert same_tensors(a["generator"], b["generator"])
    assert same_tensors(a["discriminator"], b["discriminator"])
    assert same_tensors(load(whole / "generator.pth"), load(parts / "generator.pth"))
    assert a["genOpt"]["state"][0]["exp_avg"].equal(b["genOpt"]["state"][0]["exp_avg"])
    # the history continues across the resume, row for row the same
    assert (whole / "history.csv").read_text() == (parts / "history.csv").read_text()
    assert (whole / "epoch_0002.png").read_bytes() == (parts / "epoch_0002.png").read_bytes()
    assert json.loads((parts / "run.json").read_text())["resumed_at_epochs"] == [1]


@pytest.mark.slow
def test_checkpoint_holds_everything_needed_to_continue(tmp_path, tiny_data):
    assert train(tmp_path / "o", tiny_data, "-e", "1", "-b", "32").returncode == 0
    c = load_checkpoint(tmp_path / "o" / "checkpoint.pt")
    assert c.epoch == 1 and c.benchmarkNoise.shape == (256, 100, 1, 1)
    assert "ct1.weight" in c.generator and "fc2.bias" in c.discriminator
    assert c.genOpt["state"] and c.discOpt["state"]           # Adam's moments
    assert len(c.rng) == 1 and {"torch", "noise", "shuffle"} <= set(c.rng[0])
    assert c.args["batch_size"] == 32 and c.run["num_train_images"] == 96
    assert c.history.shape[0] == 3 and c.ema is None


@pytest.mark.slow
def test_history_csv_has_a_row_per_batch_and_losses_png_is_drawn(tmp_path, tiny_data):
    out = tmp_path / "o"
    assert train(out, tiny_data, "-e", "2", "-b", "32").returncode == 0
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["epoch", "step", "loss_g", "loss_d", "d_x", "d_g_z"]
    assert all(rows[0][c] == "" for c in list(rows[0])[6:])      # no --eval-every: blank
    assert len(rows) == 2 * 3                      # 96 images / 32 = 3 batches, 2 epochs
    assert [int(r["epoch"]) for r in rows] == [1, 1, 1, 2, 2, 2]
    assert [int(r["step"]) for r in rows] == list(range(6))
    assert all(0 < float(r["d_x"]) < 1 and 0 < float(r["d_g_z"]) < 1 for r in rows)
    # the epoch's logged loss is the mean of its rows
    run = json.loads((out / "run.json").read_text())
    mean = sum(float(r["loss_g"]) for r in rows[3:]) / 3
    assert abs(run["losses"][1]["generator"] - mean) < 1e-5
    with Image.open(out / "losses.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 400


@pytest.mark.slow
def test_resuming_a_finished_run_says_so(tmp_path, tiny_data):
    assert train(tmp_path / "o", tiny_data, "-e", "1").returncode == 0
    again = train(tmp_path / "o", tiny_data, "--resume")
    assert again.returncode == 0
    assert "already finished 1 of 1 epochs" in again.stdout
    assert "starting epoch" not in again.stdout


@pytest.mark.slow
def test_resume_refuses_other_model_shaping_arguments(tmp_path, tiny_data):
    assert train(tmp_path / "o", tiny_data, "-e", "2", "-b", "16", "--stop-after", "1").returncode == 0
    result = train(tmp_path / "o", tiny_data, "--resume", "-b", "32")
    assert result.returncode == 2
    assert "--batch-size" in result.stderr and "16" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_resume_refuses_other_images(tmp_path, tiny_data):
    assert train(tmp_path / "o", tiny_data, "-e", "2", "--stop-after", "1").returncode == 0
    result = train(tmp_path / "o", tmp_path / "elsewhere", "--resume", "--no-download")
    assert result.returncode == 1 and "other images" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["missing", "truncated", "not-a-checkpoint"])
def test_resume_from_a_bad_checkpoint_is_one_line(tmp_path, tiny_data, damage):
    out = tmp_path / "o"
    assert train(out, tiny_data, "-e", "2", "--stop-after", "1").returncode == 0
    path = out / "checkpoint.pt"
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    else:
        torch.save({"weights": torch.zeros(3)}, path)
    result = train(out, tiny_data, "--resume")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "checkpoint.pt" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_folder_with_another_run_is_refused_unless_asked(tmp_path, tiny_data):
    out = tmp_path / "o"
    assert train(out, tiny_data, "-e", "2").returncode == 0
    before = sorted(p.name for p in out.iterdir())
    refused = train(out, tiny_data, "-e", "1")
    assert refused.returncode == 2
    assert "--resume" in refused.stderr and "--overwrite" in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == before

    replaced = train(out, tiny_data, "-e", "1", "--overwrite")
    assert replaced.returncode == 0
    assert not (out / "epoch_0002.png").exists()          # nothing of the old run left
    assert load_checkpoint(out / "checkpoint.pt").epoch == 1
    with Image.open(out / "output.gif") as gif:
        assert gif.n_frames == 1


@pytest.mark.slow
def test_the_committed_showcase_is_replaced_with_a_notice(tmp_path, tiny_data):
    out = tmp_path / "output"
    out.mkdir()
    for name in ("epoch_0002.png", "epoch_0020.png", "output.gif", "run.json", "SHOWCASE.md"):
        (out / name).write_text("showcase")
    result = train(out, tiny_data, "-e", "1")
    assert result.returncode == 0, result.stderr
    assert "showcase" in result.stdout
    assert sorted(p.name for p in out.glob("epoch_*.png")) == ["epoch_0001.png"]
    assert not (out / "SHOWCASE.md").exists()


@pytest.mark.slow
def test_killed_mid_training_leaves_a_loadable_checkpoint(tmp_path, tiny_data):
    out = tmp_path / "o"
    proc = start(out, tiny_data, "-e", "500")
    wait_for(out / "checkpoint.pt", proc)
    for delay in (0.13, 0.29, 0.41):        # kill at some arbitrary moments later
        time.sleep(delay)
        load_checkpoint(out / "checkpoint.pt")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = load_checkpoint(out / "checkpoint.pt")
    assert 1 <= saved.epoch < 500
    assert not list(out.glob(".*.tmp"))[1:]            # at most the one torn temp file
    resumed = train(out, tiny_data, "--resume", "-e", str(saved.epoch + 1))
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(out / "checkpoint.pt").epoch == saved.epoch + 1


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-c-from-a-background-job", "sigterm"])
def test_ctrl_c_or_sigterm_stops_cleanly_and_says_how_to_resume(tmp_path, tiny_data, how):
    if how == "ctrl-c-from-a-background-job":    # as under `nohup` or `&`: SIGINT ignored
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        out = tmp_path / "o"
        proc = start(out, tiny_data, "-e", "500")
    finally:
        if how == "ctrl-c-from-a-background-job":
            signal.signal(signal.SIGINT, previous)
    wait_for(out / "checkpoint.pt", proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (143 if how == "sigterm" else 130), stderr
    said = [line for line in stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "Traceback" not in stderr
    assert said[0].startswith(("[INFO] interrupted during epoch ", "[INFO] interrupted after epoch "))
    assert "--resume" in said[0]
    saved = load_checkpoint(out / "checkpoint.pt")
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert len(json.loads((out / "run.json").read_text())["losses"]) == saved.epoch
    assert not list(out.glob(".*.tmp"))


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_torch(path, {"epoch": 1})

    def torn(obj, f):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", torn)
    with pytest.raises(WriteError, match="checkpoint.pt: the disk is full"):
        save_torch(path, {"epoch": 2})
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_what_a_saved_run_trained_on_is_read_from_its_checkpoint():
    t = torch.zeros(1)
    fields = dict(epoch=1, generator={"w": t}, discriminator={"w": t}, genOpt={}, discOpt={},
                  benchmarkNoise=t, history=torch.zeros(0, 1),
                  rng=[{"torch": t, "noise": t, "shuffle": t}],
                  run={"data_sha256": "f", "num_train_images": 1, "data_source": "s",
                       "seconds_per_epoch": [], "losses": [], "montages": [],
                       "resumed_at_epochs": [], "metrics": []},
                  args={"dataset": "folder", "data_dir": "mine", "invert": "yes", "limit": 50,
                        "seed": 9, "epochs": 2}, dataDir="/abs/mine")
    trained = trained_with(fields, "checkpoint.pt")
    assert trained == TrainedWith("folder", "/abs/mine", "yes", 50, 9)
    assert trained.given(dataDir="other") == TrainedWith("folder", "other", "yes", 50, 9)
    assert trained_with({"ct1.weight": torch.zeros(1)}, "generator.pth") == TrainedWith()
    assert TrainedWith().given("kmnist") == TrainedWith(dataset="kmnist")


def test_ctrl_c_in_the_middle_of_a_save_waits_for_the_file_to_be_whole(tmp_path):
    def writer(f):
        f.write(b"first half, ")
        os.kill(os.getpid(), signal.SIGINT)           # Ctrl-C now
        for _ in range(10_000):                       # ... while Python goes on writing
            pass
        f.write(b"second half")

    # Python's own Ctrl-C handler, even where pytest was started with SIGINT
    # ignored (a background job, nohup)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_atomic(tmp_path / "f.bin", writer)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "f.bin").read_bytes() == b"first half, second half"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]          # no temporary file left


def test_an_ignored_ctrl_c_stays_ignored_during_a_save(tmp_path):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        write_atomic(tmp_path / "f.bin", lambda f: (f.write(b"x"), os.kill(os.getpid(), signal.SIGINT)))
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "f.bin").read_bytes() == b"x"


def test_sigterm_during_an_epochs_files_is_not_lost_and_stops_at_the_next_epoch(
        tmp_path, tiny_data, monkeypatch):
    # SIGTERM while losses.png is drawn, inside code that catches what is
    # raised there (matplotlib's first import catches Exception around
    # mplot3d's, and an interrupt raised in it came out as one: the stop was
    # lost and the run went on to the end)
    from pyimagesearch import visualize
    draw, calls = visualize.plot_losses, []

    def drawn_while_terminated(history, path):
        calls.append(path)
        if len(calls) == 1:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10_000):
                    pass
            except BaseException:
                pass
        draw(history, path)

    monkeypatch.setattr(visualize, "plot_losses", drawn_while_terminated)
    out = tmp_path / "o"
    result = train(out, tiny_data, "-b", "16", "-e", "3")
    assert result.returncode == 143, result.stderr
    assert one_line(result.stderr) == (f"[INFO] interrupted during epoch 2; {out / 'checkpoint.pt'}"
                                       " holds 1 epoch: continue with --resume")
    assert load_checkpoint(out / "checkpoint.pt").epoch == 1
    assert len(calls) == 1 and (out / "losses.png").exists()       # epoch 1's files whole
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL        # given back


def test_held_signals_wait_for_a_safe_point_and_a_second_stops_at_once():
    from pyimagesearch.errors import Terminated, raise_terminated
    from pyimagesearch.interrupts import HeldSignals

    def burn():
        for _ in range(10_000):                       # Python runs its handlers here
            pass

    previous = (signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.signal(signal.SIGTERM, raise_terminated))
    stops = HeldSignals(secondAtOnce=True)
    try:
        stops.hold()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN        # ignored stays ignored
        os.kill(os.getpid(), signal.SIGTERM)
        burn()                                        # noted, not raised
        with pytest.raises(Terminated):
            stops.take()
        stops.take()                                  # taken once
        os.kill(os.getpid(), signal.SIGTERM)
        burn()
        with pytest.raises(Terminated):               # the second: at once
            os.kill(os.getpid(), signal.SIGTERM)
            burn()
        stops.take()
    finally:
        stops.release(take=False)
        assert signal.getsignal(signal.SIGTERM) is raise_terminated
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


@pytest.mark.slow
def test_a_sigterm_just_after_the_final_line_ends_with_a_status_not_the_bare_signal(
        tmp_path, tiny_data):
    statuses = []
    for attempt in range(3):
        proc = start(tmp_path / f"o{attempt}", tiny_data, "-e", "1")
        for line in proc.stdout:                 # until the run's final line
            if " are in " in line:
                break
        proc.send_signal(signal.SIGTERM)         # Python is shutting down by now
        proc.communicate(timeout=60)
        statuses.append(proc.returncode)
    assert set(statuses) <= {0, 143}, statuses


def test_a_stop_between_epochs_says_the_last_epoch_is_whole():
    from pyimagesearch.training.ending import interrupted
    assert interrupted("o", True, 2, 2, "o/checkpoint.pt") == \
        "interrupted during epoch 3; o/checkpoint.pt holds 2 epochs: continue with --resume"
    assert interrupted("o", True, 1, 2, "o/checkpoint.pt") == ("interrupted after epoch 2, its "
        "files saved; o/checkpoint.pt holds 2 epochs: continue with --resume")
    assert interrupted("o", True, 1, 2, "o/checkpoint.pt", main=False) is None


def test_the_continue_command_quotes_an_output_folder_for_the_shell(monkeypatch, tmp_path,
                                                                   tiny_data):
    # pasted, "continue with: ... --output my runs/one --resume" would give
    # dcgan_mnist.py two words for --output
    from types import SimpleNamespace
    from pyimagesearch.training.ending import interrupted
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.delenv("DCGAN_LAUNCHER", raising=False)
    ctx = SimpleNamespace(enabled=True, worldSize=2)
    said = interrupted("my runs/one", True, 2, 2, "my runs/one/checkpoint.pt", ctx=ctx)
    assert said.endswith("continue with: torchrun --standalone --nproc-per-node=2 dcgan_mnist.py "
                         "--output 'my runs/one' --resume"), said
    result = train(tmp_path / "my runs", tiny_data, "-e", "2",
                   "--stop-after", "1", "-b", "32")
    assert result.returncode == 0, result.stderr
    assert (f"continue with: python dcgan_mnist.py --output '{tmp_path}/my runs' --resume"
            in result.stdout), result.stdout
