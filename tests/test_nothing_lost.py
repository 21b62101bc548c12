"""Nothing is ever lost: every check before anything is deleted, one run per
folder, every file whole or not at all, every bad input one line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import dcgan_mnist
from reference import article
from conftest import (ROOT, default_signals, load, make_idx_folder, one_line, run_script,
                      snapshot, start, train, usage_error, wait_for, write_idx)
from pyimagesearch import files
from pyimagesearch.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch run, to copy into a test's folder."""
    root = tmp_path_factory.mktemp("finished")
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, "-e", "2", "-b", "32").returncode == 0
    return root / "run", data


def copy_of(run, folder):
    folder.mkdir()
    for p in run.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


# ------------------------------------------------ check before deleting

@pytest.mark.slow
@pytest.mark.parametrize("case", ["overwrite-missing-device", "overwrite-corrupt-data",
                                  "showcase-missing-device", "interrupted-while-loading"])
def test_a_run_that_fails_its_checks_leaves_the_previous_run_intact(tmp_path, finished_run, case,
                                                                    monkeypatch):
    run, data = finished_run
    out = copy_of(run, tmp_path / "out")
    before = snapshot(out)
    if case == "overwrite-missing-device":
        result = train(out, data, "--overwrite", "--device", "mps")     # no Apple GPU here
        assert result.returncode == 2 and "--device" in result.stderr
    elif case == "overwrite-corrupt-data":
        broken = make_idx_folder(tmp_path / "broken")
        path = broken / "train-images-idx3-ubyte.gz"
        path.write_bytes(path.read_bytes()[:40])
        result = train(out, broken, "--overwrite")
        assert result.returncode == 1 and "train-images-idx3-ubyte.gz" in one_line(result.stderr)
    elif case == "showcase-missing-device":
        (out / "SHOWCASE.md").write_text("the committed sample run")
        before = snapshot(out)
        result = train(out, data, "--device", "mps")
        assert result.returncode == 2
    else:
        import pyimagesearch.training.images

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(pyimagesearch.training.images, "load_dataset", interrupted)
        result = train(out, data, "--overwrite")
        assert result.returncode == 130
        assert "nothing in" in one_line(result.stderr) and "was changed" in result.stderr
    assert snapshot(out) == before


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["disk-full-at-the-first-checkpoint", "ctrl-c-in-epoch-1",
                                     "a-bug-in-epoch-1"])
def test_overwrite_gives_the_previous_run_back_when_the_new_one_fails_before_an_epoch(
        tmp_path, finished_run, monkeypatch, failure):
    import pyimagesearch.training.trained
    run, data = finished_run
    out = copy_of(run, tmp_path / "out")
    (out / "my-notes.txt").write_text("kept")
    before = snapshot(out)
    error = {"disk-full-at-the-first-checkpoint": files.WriteError(
        "cannot write checkpoint.pt: the disk is full"), "ctrl-c-in-epoch-1": KeyboardInterrupt(),
        "a-bug-in-epoch-1": ZeroDivisionError("a bug")}[failure]

    def fails(*args, **kwargs):
        raise error
    monkeypatch.setattr(pyimagesearch.training.trained, "save_checkpoint", fails)
    if failure == "a-bug-in-epoch-1":
        with pytest.raises(ZeroDivisionError):
            dcgan_mnist.main(["-o", str(out), "--data-dir", str(data), "--no-progress",
                              "--overwrite", "-b", "32"])
    else:
        result = train(out, data, "--overwrite", "-b", "32")
        assert result.returncode == {"ctrl-c-in-epoch-1": 130}.get(failure, 1)
        assert "the previous run's files are back" in result.stdout
        said = one_line(result.stderr)
        assert ("disk is full" in said) if result.returncode == 1 else ("epoch 1" in said)
    assert snapshot(out) == before and not (out / ".previous-run").exists()


@pytest.mark.slow
def test_overwrite_deletes_the_previous_run_once_the_new_one_saved_an_epoch(tmp_path,
                                                                           finished_run):
    run, data = finished_run
    out = copy_of(run, tmp_path / "out")
    result = train(out, data, "--overwrite", "-e", "1", "-b", "64", "--seed", "3")
    assert result.returncode == 0 and "are set aside" in result.stdout
    assert not (out / ".previous-run").exists()
    assert json.loads((out / "run.json").read_text())["arguments"]["seed"] == 3


@pytest.mark.parametrize("flags, option", [
    (["--eval-every", "1", "--eval-num", "100000000000"], "--eval-num"),
    (["--eval-every", "1", "--eval-num", "100001"], "--eval-num")])
def test_absurd_bounds_are_refused_before_the_previous_run_is_touched(tmp_path, flags, option):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "run.json").write_text('{"status": "finished", "losses": [{"epoch": 1}]}')
    (out / "checkpoint.pt").write_bytes(b"PK")
    before = snapshot(out)
    usage_error(train(out, tmp_path / "no-data", "--overwrite", *flags), option, "at most 100,000")
    assert snapshot(out) == before


@pytest.mark.slow
def test_too_few_held_out_images_for_the_neighbours_skip_the_metrics_in_a_line(tmp_path):
    data = make_idx_folder(tmp_path / "data", train=16, test=0)
    result = train(tmp_path / "o", data, "-e", "1", "-b", "8", "--eval-every", "1")
    assert result.returncode == 0, result.stderr
    assert "--eval-every skipped: the quality metrics compare samples with at least 6 held-out " \
           "real images" in result.stdout and "hold out 3 of 16" in result.stdout
    assert not (tmp_path / "o" / "metrics.json").exists()
    scored = run_script("evaluate.py", "--checkpoint", tmp_path / "o" / "checkpoint.pt",
                        "--num", "256")
    last = scored.stderr.strip().splitlines()[-1]
    assert scored.returncode == 1 and last.startswith("[ERROR] cannot score") and "hold out 3" in last


def test_an_empty_output_name_is_refused_before_the_data_is_read(tmp_path):
    result = train("", tmp_path / "no-data-here", "--no-download")
    assert result.returncode == 2 and "empty name" in result.stderr
    assert "loading MNIST" not in result.stdout


# ------------------------------------------------ one run per folder

@pytest.mark.slow
@pytest.mark.parametrize("second", [[], ["--overwrite"], ["--resume"]])
def test_a_second_run_in_the_same_folder_is_refused_naming_the_first(tmp_path, tiny_data, second):
    out = tmp_path / "o"
    first = start(out, tiny_data, "-e", "500")
    try:
        wait_for(out / "checkpoint.pt", first)
        result = train(out, tiny_data, "-e", "2", *second)
        line = one_line(result.stderr)
        assert result.returncode == 1
        assert f"in use by process {first.pid}" in line and "dcgan_mnist.py" in line
        assert first.poll() is None                        # the first run goes on
        assert json.loads((out / "run.json").read_text())["arguments"]["epochs"] == 500
    finally:
        first.kill()
        first.wait()
    # a killed holder leaves no stuck lock
    assert train(out, tiny_data, "--resume", "-e", "3").returncode == 0


# ------------------------------------------------ full disk, read-only folder

@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_last_checkpoint_survives(tmp_path, tiny_data, monkeypatch):
    out = tmp_path / "o"
    real, saves = torch.save, []

    def fills_the_disk(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 3:             # the checkpoint of epoch 3
            f.write(b"PK\x03\x04 the first bytes")
            raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fills_the_disk)
    result = train(out, tiny_data, "-e", "3", "-b", "32")
    monkeypatch.undo()
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "checkpoint.pt: the disk is full" in line
    assert load_checkpoint(out / "checkpoint.pt").epoch == 2     # the last good one
    assert not list(out.glob(".*.tmp"))
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed"
    # run.json and history.csv say what the checkpoint holds: 2 epochs
    assert [e["epoch"] for e in record["losses"]] == [1, 2]
    assert len(record["seconds_per_epoch"]) == 2
    rows = (out / "history.csv").read_text().splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == {"1", "2"}


@pytest.mark.slow
def test_a_run_whose_final_files_failed_can_be_finished_by_resume(tmp_path, tiny_data,
                                                                   monkeypatch):
    out = tmp_path / "o"
    real = files.save_torch

    def full_at_the_end(path, obj):
        if os.path.basename(path) == "generator.pth":
            raise files.WriteError(f"cannot write {path}: the disk is full")
        return real(path, obj)

    monkeypatch.setattr(files, "save_torch", full_at_the_end)
    failed = train(out, tiny_data, "-e", "2", "-b", "32")
    monkeypatch.undo()
    assert failed.returncode == 1 and "generator.pth: the disk is full" in one_line(failed.stderr)
    assert not (out / "generator.pth").exists()
    finished = train(out, tiny_data, "--resume")
    assert finished.returncode == 0, finished.stderr
    assert "trained all 2 epochs, but its generator.pth is missing: writing them" in finished.stdout
    assert "starting epoch" not in finished.stdout
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    saved = load_checkpoint(out / "checkpoint.pt")
    assert all(torch.equal(v, load(out / "generator.pth")[k]) for k, v in saved.generator.items())
    again = train(out, tiny_data, "--resume")
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.slow
def test_a_folder_that_turns_read_only_mid_run_is_one_line(tmp_path, tiny_data, monkeypatch):
    import errno

    out = tmp_path / "o"
    real, made = files.tempfile.mkstemp, []

    def read_only_after_epoch_1(*args, **kwargs):
        made.append(kwargs.get("prefix", ""))
        if any("checkpoint.pt" in p for p in made[:-1]):     # after the first checkpoint
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only_after_epoch_1)
    result = train(out, tiny_data, "-e", "3", "-b", "32")
    monkeypatch.undo()
    assert result.returncode == 1
    assert "the file system is read-only" in one_line(result.stderr)
    assert load_checkpoint(out / "checkpoint.pt").epoch == 1


# ------------------------------------------------ stopping in epoch 1

@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "sigkill"])
def test_a_run_stopped_in_its_first_epoch_leaves_a_folder_a_plain_rerun_takes(tmp_path, stop):
    data = make_idx_folder(tmp_path / "data", train=3000, test=0)
    out = tmp_path / "o"
    proc = start(out, data, "-e", "2")
    wait_for(out / "run.json", proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT if stop == "ctrl-c" else signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert not (out / "checkpoint.pt").exists()
    status = json.loads((out / "run.json").read_text())["status"]
    if stop == "ctrl-c":
        assert proc.returncode == 130 and "nothing was saved" in stderr
        assert status == "interrupted"
    else:
        assert status == "running"                   # it had no chance to say more
    resumed = train(out, data, "--resume")
    assert resumed.returncode == 1
    assert "without --resume starts it again" in one_line(resumed.stderr)
    rerun = train(out, data, "-e", "1", "--limit", "64")
    assert rerun.returncode == 0, rerun.stderr
    assert "stopped before its first epoch ended" in rerun.stdout


# ------------------------------------------------ kills while writing

@pytest.mark.slow
@pytest.mark.parametrize("target, nth", [("epoch_0002.png", 1), ("checkpoint.pt", 2)])
def test_a_kill_while_writing_leaves_the_old_file_and_the_next_run_cleans_up(tmp_path, tiny_data,
                                                                             target, nth):
    out, marker = tmp_path / "o", tmp_path / "stalled"
    proc = start(out, tiny_data, "-e", "3",
                 script=("tests/slow_writer.py", target, str(nth), str(marker), "dcgan_mnist.py"))
    wait_for(marker, proc)
    proc.kill()
    proc.wait()
    leftovers = list(out.glob(f".{target}.*.tmp"))
    assert len(leftovers) == 1                        # the half-written temporary file
    if target == "epoch_0002.png":
        assert not (out / target).exists()            # no torn montage
    assert load_checkpoint(out / "checkpoint.pt").epoch == 1      # the old one, whole
    resumed = train(out, tiny_data, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not list(out.glob(".*.tmp"))                # the leftover is gone
    assert load_checkpoint(out / "checkpoint.pt").epoch == 3
    assert (out / "epoch_0002.png").stat().st_size > 1000


@pytest.mark.slow
def test_after_a_sigkill_of_an_overwrite_the_next_invocation_puts_the_run_back(tmp_path,
                                                                              finished_run):
    run, data = finished_run
    out, marker = copy_of(run, tmp_path / "out"), tmp_path / "stalled"
    before = snapshot(out)
    proc = start(out, data, "--overwrite", "-e", "1", script=(
        "tests/slow_writer.py", "checkpoint.pt", "1", str(marker), "dcgan_mnist.py"))
    wait_for(marker, proc)                  # the new run's first checkpoint, half written
    proc.kill()
    proc.wait()
    assert (out / ".previous-run" / "checkpoint.pt").is_file()
    for script in ("generate.py", "evaluate.py"):          # they say where the run is
        args = ["--output", tmp_path / "s.png"] if script == "generate.py" else []
        result = run_script(script, "--checkpoint", out / "checkpoint.pt", *args)
        said = one_line(result.stderr)
        assert result.returncode == 1 and ".previous-run" in said and "puts it back" in said
    resumed = train(out, data, "--resume")          # the old run: 2 of 2 epochs, nothing to do
    assert resumed.returncode == 0, resumed.stderr
    assert "put back the previous run" in resumed.stdout
    assert "already finished 2 of 2 epochs" in resumed.stdout
    assert snapshot(out) == before and not (out / ".previous-run").exists()


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py", "demo.py", "resume"])
def test_a_fifo_as_the_checkpoint_is_refused_without_opening_it(tmp_path, script):
    fifo = tmp_path / "checkpoint.pt"
    os.mkfifo(fifo)
    if script == "resume":
        result = run_script("dcgan_mnist.py", "-o", tmp_path, "--resume", "--no-download",
                            subprocess_=True, timeout=60)
    else:
        args = ["--output", tmp_path / "s.png"] if script == "generate.py" else []
        if script == "demo.py":     # a free port: the demo checks its port first, and 7860
            with socket.socket() as s:      # may be another demo's on a busy machine (#40)
                s.bind(("127.0.0.1", 0))
                args = ["--port", s.getsockname()[1]]
        result = run_script(script, "--checkpoint", fifo, *args, subprocess_=True, timeout=60)
    said = one_line(result.stderr)
    assert result.returncode == 1 and "not a regular file" in said and str(fifo) in said


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py"])
def test_sigterm_while_a_script_loads_is_one_line_and_status_143(tmp_path, script):
    marker = tmp_path / "loading"
    args = ["--checkpoint", "x.pt"] + (["--output", str(tmp_path / "s.png")]
                                       if script == "generate.py" else [])
    code = ("import os, runpy, sys, time\n"
            "sys.path.insert(0, os.getcwd())\n"
            "import pyimagesearch.checkpoint as c\n"
            "def slow(path):\n"
            f"    open({str(marker)!r}, 'w').close()\n"
            "    time.sleep(60)\n"
            "c.load = slow\n"
            f"sys.argv = [{script!r}, *{args!r}]\n"
            f"runpy.run_path({script!r}, run_name='__main__')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and one_line(stderr).startswith("[INFO] interrupted")


@pytest.mark.slow
def test_a_killed_generate_py_leaves_the_existing_image_whole(tmp_path, finished_run):
    run, _ = finished_run
    samples, marker = tmp_path / "samples.png", tmp_path / "stalled"
    samples.write_bytes(b"the user's earlier samples")
    proc = subprocess.Popen([sys.executable, "tests/slow_writer.py", "samples.png", "1", str(marker),
                             "generate.py", "--checkpoint", str(run / "generator.pth"),
                             "--output", str(samples)], cwd=ROOT)
    wait_for(marker, proc)
    proc.kill()
    proc.wait()
    assert samples.read_bytes() == b"the user's earlier samples"


# ------------------------------------------------ one line, not a traceback

@pytest.mark.parametrize("script", ["dcgan_mnist.py", "generate.py", "evaluate.py"])
def test_a_seed_out_of_range_is_a_usage_error(tmp_path, script):
    args = (["--output", tmp_path / "o"] if script == "dcgan_mnist.py" else
            ["--checkpoint", tmp_path / "x.pt"] + (["--output", tmp_path / "x.png"]
                                                    if script == "generate.py" else []))
    result = run_script(script, *args, "--seed", str(2**70))
    assert result.returncode == 2 and "--seed" in result.stderr and "Traceback" not in result.stderr


def test_an_idx_file_with_no_images_is_one_line(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", torch.zeros(0, 28, 28, dtype=torch.uint8).numpy())
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(0, dtype=torch.uint8).numpy())
    result = train(tmp_path / "o", tmp_path, "-e", "1")
    assert result.returncode == 1
    assert "train-images-idx3-ubyte: holds no images" in one_line(result.stderr)
    assert not (tmp_path / "o").exists()


def test_an_idx_symlink_loop_is_named_as_such(tmp_path):
    make_idx_folder(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.unlink()
    os.symlink("loop-b", tmp_path / "loop-a")
    os.symlink("loop-a", tmp_path / "loop-b")
    os.symlink("loop-a", path)
    result = train(tmp_path / "o", tmp_path, "-e", "1")
    assert result.returncode == 1 and "symbolic link" in one_line(result.stderr)


def generator_file(path, inputDim=100, outputChannels=1, drop=None, nan=False):
    torch.manual_seed(0)
    state = article.Generator(inputDim=inputDim, outputChannels=outputChannels).state_dict()
    if drop:
        del state[drop]
    if nan:
        state["ct2.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, path)
    return path


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py"])
@pytest.mark.parametrize("case, said", [("two", "2-channel images"), ("no-ct4", "'ct4.weight'"),
                                        ("nan", "NaN or infinite")])
def test_a_generator_that_does_not_fit_is_one_line(tmp_path, script, case, said):
    path = generator_file(tmp_path / "g.pth", outputChannels=2 if case == "two" else 1,
                          drop="ct4.weight" if case == "no-ct4" else None, nan=case == "nan")
    extra = ["--output", tmp_path / "x.png"] if script == "generate.py" else ["--no-download"]
    result = run_script(script, "--checkpoint", path, *extra)
    assert result.returncode == 1 and said in one_line(result.stderr)
    assert not (tmp_path / "x.png").exists()


def test_a_generator_with_another_noise_size_draws_digits(tmp_path):
    path = generator_file(tmp_path / "g64.pth", inputDim=64)
    result = run_script("generate.py", "--checkpoint", path, "--output", tmp_path / "x.png",
                        "--num", "16")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.png").stat().st_size > 0


@pytest.mark.slow
def test_resume_with_a_checkpoint_of_other_shapes_is_one_line(tmp_path, finished_run):
    run, data = finished_run
    out = copy_of(run, tmp_path / "o")
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    checkpoint["generator"] = article.Generator(inputDim=64).state_dict()
    checkpoint["epoch"] = 1
    torch.save(checkpoint, out / "checkpoint.pt")
    before = snapshot(out)
    result = train(out, data, "--resume")
    assert result.returncode == 1 and "does not fit the article's models" in one_line(result.stderr)
    assert snapshot(out) == before


# ------------------------------------------------ data folders, logs, words

def test_a_failed_download_leaves_no_folders_in_the_users_folder(tmp_path, monkeypatch):
    from pyimagesearch.data import sources as data

    def offline(dataset, dataDir):
        os.makedirs(os.path.join(dataDir, "MNIST", "raw"))     # as torchvision does
        raise OSError("Name or service not known")

    monkeypatch.setattr(data, "download", offline)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    imageSet = data.load_dataset("mnist", str(tmp_path / "mine"), warn=lambda lines: None)
    assert imageSet.fallback
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_resuming_from_another_working_folder_finds_the_data(tmp_path):
    make_idx_folder(tmp_path / "project" / "digits")
    (tmp_path / "elsewhere").mkdir()
    script = os.path.join(ROOT, "dcgan_mnist.py")
    common = dict(capture_output=True, text=True, timeout=300)
    first = subprocess.run([sys.executable, script, "-o", "run", "--data-dir", "digits", "-e", "2",
                            "--stop-after", "1", "--no-progress", "--no-download"],
                           cwd=tmp_path / "project", **common)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, script, "-o", str(tmp_path / "project" / "run"),
                             "--resume", "--no-progress"], cwd=tmp_path / "elsewhere", **common)
    assert second.returncode == 0, second.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []       # no stray folders
    assert json.loads((tmp_path / "project" / "run" / "run.json").read_text())[
        "arguments"]["data_dir"] == "digits"                     # as typed


@pytest.mark.slow
def test_a_log_file_gets_the_articles_lines_at_the_start_of_lines(tmp_path, tiny_data):
    log = tmp_path / "train.log"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "dcgan_mnist.py", "-o", str(tmp_path / "o"),
                        "--data-dir", str(tiny_data), "-e", "2", "-b", "16"],
                       cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text()
    assert "\r" not in text
    losses = [line for line in text.splitlines() if line.startswith("[INFO] Generator Loss")]
    assert len(losses) == 2


@pytest.mark.slow
def test_stopping_early_names_only_the_files_written(tmp_path, tiny_data):
    result = train(tmp_path / "o", tiny_data, "-e", "3", "--stop-after", "1")
    assert result.returncode == 0
    last = result.stdout.splitlines()[-1]
    assert "montages" not in last and "output.gif" not in last and "generator.pth" in last
    assert not (tmp_path / "o" / "output.gif").exists()


@pytest.mark.parametrize("command, option, said", [
    (["dcgan_mnist.py", "-o", "OUT", "--eval-every", "1", "--eval-num", "1"], "--eval-num",
     "must be at least 256"),
    (["evaluate.py", "--checkpoint", "x.pt", "--num", "1"], "--num", "must be at least 256"),
    (["dcgan_mnist.py", "-o", "OUT", "--dataset", "fake", "--eval-every", "1"], "--eval-every",
     "--dataset fake is random noise"),
    (["generate.py", "--checkpoint", "x.pt", "--output", "OUT.png", "--num", "100000"], "--num",
     "at most 10,000"),
    (["dcgan_mnist.py", "-o", "OUT", "--cr", "1e300"], "--cr", "at most 100"),
    (["dcgan_mnist.py", "-o", "OUT", "--cr", "1e30"], "--cr", "at most 100"),
    (["dcgan_mnist.py", "-o", "OUT", "--cr-shift", "2"], "--cr-shift", "give --cr LAMBDA too"),
    (["dcgan_mnist.py", "-o", "OUT", "--cr", "0", "--cr-shift", "2"], "--cr-shift", "is off")])
def test_options_that_would_mislead_are_refused(tmp_path, command, option, said):
    args = [str(tmp_path / a) if a.startswith("OUT") else a for a in command]
    usage_error(run_script(*args), option, said)
    assert not any(p.name.startswith("OUT") for p in tmp_path.iterdir())


@pytest.mark.parametrize("how", ["huge-learning-rates", "an-infinite-loss-at-batch-3"])
def test_a_training_that_diverges_stops_in_one_line_as_failed(tmp_path, tiny_data, how,
                                                              monkeypatch):
    out = tmp_path / "o"
    if how == "huge-learning-rates":        # D's weights break: BCELoss refuses its output
        result = train(out, tiny_data, "-e", "2", "-b", "16", "--lr-d", "1e30", "--lr-g", "1e30")
        batch = 1
    else:                                   # the loss itself becomes inf at a given batch
        from pyimagesearch.training.recipes import RecipeInTraining
        calls = []

        def breaks(self, errorD, *args):
            calls.append(1)
            return errorD * (float("inf") if len(calls) == 9 else 1.0)   # epoch 2's 3rd
        monkeypatch.setattr(RecipeInTraining, "regularise", breaks)
        result = train(out, tiny_data, "-e", "3", "-b", "16")
        batch = 3
    said = one_line(result.stderr)
    assert result.returncode == 1
    assert "diverged" in said and "--lr-d" in said
    if how == "huge-learning-rates":
        assert f"batch {batch} of epoch 1" in said and "no epoch was saved" in said
    else:                                   # 96 images in 16s: 6 batches an epoch
        assert f"batch {batch} of epoch 2" in said and "keeps epoch 1" in said
        assert load_checkpoint(out / "checkpoint.pt").epoch == 1
    assert json.loads((out / "run.json").read_text())["status"] == "failed"


def test_a_file_that_starts_like_a_zip_but_is_none_is_called_corrupt(tmp_path):
    path = tmp_path / "g.pth"
    path.write_bytes(b"PK\x03\x04 but then nothing of a zip archive")
    result = run_script("generate.py", "--checkpoint", path, "--output", tmp_path / "x.png")
    line = one_line(result.stderr)
    assert result.returncode == 1 and "truncated or corrupt" in line and "pickled" not in line


@pytest.mark.slow
def test_weights_ema_on_a_file_without_one_is_one_line(tmp_path, finished_run):
    run, _ = finished_run
    result = run_script("generate.py", "--checkpoint", run / "generator.pth", "--output",
                        tmp_path / "x.png", "--weights", "ema")
    assert result.returncode == 1 and "no EMA copy" in one_line(result.stderr)


@pytest.mark.slow
def test_metrics_json_names_no_folder_of_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    data = make_idx_folder(tmp_path / "data", train=200, test=100)
    assert train(tmp_path / "o", data, "-e", "1", "--eval-every", "1", "--eval-num", "256").returncode == 0
    text = (tmp_path / "o" / "metrics.json").read_text()
    assert str(tmp_path) not in text and "cache_file" in text


# ------------------------------------------------ output paths refused before training

@pytest.mark.parametrize("case, said", [
    ("not-utf-8", "is not a valid UTF-8 name"),
    ("dangling-link", "is a symbolic link to nothing"),
    ("looping-link", "is a symbolic link to nothing"),
    ("under-a-dangling-link", "is a symbolic link to nothing, so"),
    ("a-folder-named-generator.pth", "generator.pth is not a file"),
    ("inside-the-data-dir", "is inside --data-dir"),
])
def test_output_paths_that_cannot_work_are_refused_before_training(tmp_path, case, said):
    images = tmp_path / "images" / "a"
    images.mkdir(parents=True)
    out = tmp_path / "o"
    if case == "not-utf-8":
        out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/run-\xff")
    elif case == "dangling-link":
        out.symlink_to(tmp_path / "gone")
    elif case == "looping-link":
        out.symlink_to(tmp_path / "o2")
        (tmp_path / "o2").symlink_to(out)
    elif case == "under-a-dangling-link":
        (tmp_path / "link").symlink_to(tmp_path / "gone")
        out = tmp_path / "link" / "o"
    elif case == "a-folder-named-generator.pth":
        (out / "generator.pth").mkdir(parents=True)
    else:
        out = tmp_path / "images" / "runs"
    before = sorted(os.listdir(tmp_path))
    result = train(out, tmp_path / "images", "--dataset", "folder", "--no-download")
    usage_error(result, "-o/--output", said)
    assert "loading MNIST" not in result.stdout
    assert sorted(os.listdir(tmp_path)) == before


def test_an_individual_folder_that_cannot_be_made_is_refused_before_the_montage(tmp_path):
    (tmp_path / "a-file").write_text("")
    result = run_script("generate.py", "--checkpoint", tmp_path / "c.pt", "--output",
                        tmp_path / "x.png", "--individual", tmp_path / "a-file" / "digits")
    usage_error(result, "--individual", "is a file, so")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("env, said", [
    ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc' is not a whole number"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "describe no job"),
    ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "1"}, "describe no job"),
    ({"WORLD_SIZE": "2", "RANK": "0"}, "MASTER_ADDR and MASTER_PORT do not say where"),
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "FREE"},
     "other processes of WORLD_SIZE=2 did not come to 127.0.0.1:"),
])
def test_stray_torch_distributed_variables_are_one_line(tmp_path, monkeypatch, env, said):
    import datetime
    import socket
    import pyimagesearch.training.distributed as distributed
    monkeypatch.setattr(distributed, "JOIN_TIMEOUT", datetime.timedelta(seconds=2))
    if env.get("MASTER_PORT") == "FREE":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            env = dict(env, MASTER_PORT=str(s.getsockname()[1]))
    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
    result = train(tmp_path / "o", tmp_path / "no-data", "--no-download", "--device", "cpu")
    assert result.returncode == 1, result.stderr
    assert said in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
