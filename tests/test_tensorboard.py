"""--tensorboard: the event files read back with TensorBoard's own reader
find every batch's losses and verdicts (the values of history.csv), the
montages, the scores and the options; a resume continues the curves with
no step twice; nothing is written without the option."""

import csv
import errno
import json
import os

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import ROOT, make_idx_folder, one_line, snapshot, train, usage_error
from pyimagesearch.checkpoint import load_checkpoint
from pyimagesearch.training.board import BATCH_TAGS, TensorBoardLog

pytestmark = pytest.mark.slow


def events(folder):
    reader = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    reader.Reload()
    return reader


def history(folder):
    with open(folder / "history.csv") as f:
        return list(csv.DictReader(f))


def scalars(reader, tag):
    return [(e.step, e.value) for e in reader.Scalars(tag)]


def test_every_batch_montage_score_and_option_is_in_the_events(tmp_path):
    data = make_idx_folder(tmp_path / "data", train=96, test=0)
    out = tmp_path / "run"
    # 96 images in batches of 2: 48 batches an epoch, so the live writes
    # (every 25 batches) and the end of the epoch both take part
    result = train(out, data, "-e", "2", "-b", "2", "--tensorboard", "--eval-every", "2",
                   "--eval-num", "256")
    assert result.returncode == 0, result.stderr
    reader = events(out / "tensorboard")
    rows = history(out)
    assert len(rows) == 96
    for tag, column in zip(BATCH_TAGS, ("loss_g", "loss_d", "d_x", "d_g_z")):
        logged = scalars(reader, tag)
        assert [step for step, _ in logged] == list(range(96))
        assert [v for _, v in logged] == pytest.approx([float(r[column]) for r in rows], abs=1e-5)
    montages = reader.Images("montage")
    assert [m.step for m in montages] == [95]              # epoch 2's montage, at its last batch
    assert (montages[0].width, montages[0].height) == (16 * 28, 16 * 28)
    fld = scalars(reader, "quality/fld")
    assert [step for step, _ in fld] == [95]
    metrics = [r for r in rows if r["fld"]]
    assert fld[0][1] == pytest.approx(float(metrics[-1]["fld"]), rel=1e-5)
    options = reader.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(options).session_start_info.hparams
    assert hparams["batch_size"].number_value == 2
    assert hparams["epochs"].number_value == 2


def test_a_resume_continues_the_curves_with_no_step_twice(tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    data = make_idx_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert train(out, data, "-e", "2", "-b", "16", "--tensorboard", "--stop-after", "1").returncode == 0
    perEpoch = len(history(out))                    # 96 images in batches of 16: 6
    # what a process killed during epoch 2 would have logged after the checkpoint
    killed = SummaryWriter(str(out / "tensorboard"))
    for step in range(perEpoch, perEpoch + 3):
        killed.add_scalar("loss/generator", 1000.0, step)
    killed.close()
    assert train(out, data, "--resume").returncode == 0
    reader = events(out / "tensorboard")
    logged = scalars(reader, "loss/generator")
    assert [step for step, _ in logged] == list(range(2 * perEpoch))
    assert [v for _, v in logged] == pytest.approx([float(r["loss_g"]) for r in history(out)],
                                                   abs=1e-5)
    assert [e.step for e in reader.Images("montage")] == [2 * perEpoch - 1]


def test_nothing_is_written_without_the_option_and_the_run_is_the_same(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    plain, logged = tmp_path / "plain", tmp_path / "logged"
    assert train(plain, data, "-e", "2", "-b", "16").returncode == 0
    board = tmp_path / "elsewhere"
    assert train(logged, data, "-e", "2", "-b", "16", "--tensorboard", board).returncode == 0
    assert not (plain / "tensorboard").exists()
    assert os.listdir(board)
    a, b = snapshot(plain), snapshot(logged)
    assert a.keys() == b.keys()
    # the same training: every file but the record (arguments, times) and the
    # checkpoint that holds that record is identical
    assert {k for k in a if a[k] != b[k]} <= {"run.json", "checkpoint.pt"}
    assert a["generator.pth"] == b["generator.pth"]


def test_an_unwritable_or_taken_folder_is_refused_before_anything(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):        # (root may write anywhere)
            result = train(tmp_path / "a", data, "-e", "1", "--tensorboard", locked / "tb")
            usage_error(result, "--tensorboard", "not writable")
            assert not (tmp_path / "a").exists()
    finally:
        locked.chmod(0o700)
    file = tmp_path / "file"
    file.write_text("x")
    usage_error(train(tmp_path / "b", data, "-e", "1", "--tensorboard", file),
                "--tensorboard", "is a file")
    assert train(tmp_path / "c", data, "-e", "1", "--tensorboard", tmp_path / "tb").returncode == 0
    result = train(tmp_path / "d", data, "-e", "1", "--tensorboard", tmp_path / "tb")
    usage_error(result, "--tensorboard", "already holds TensorBoard events")
    assert not (tmp_path / "d").exists()


def test_an_overwrite_that_ends_before_its_first_epoch_gives_the_old_curves_back(
        tmp_path, monkeypatch):
    import pyimagesearch.training.trained
    data = make_idx_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert train(out, data, "-e", "1", "-b", "8", "--tensorboard").returncode == 0
    before = {p.name: p.read_bytes() for p in (out / "tensorboard").iterdir()}
    assert len(scalars(events(out / "tensorboard"), "loss/generator")) == 12   # 96 images / 8

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pyimagesearch.training.trained, "save_checkpoint", interrupted)
    result = train(out, data, "-e", "1", "-b", "8", "--tensorboard", "--overwrite")
    assert result.returncode == 130 and "back in" in result.stdout
    assert {p.name: p.read_bytes() for p in (out / "tensorboard").iterdir()} == before
    assert [s for s, _ in scalars(events(out / "tensorboard"), "loss/generator")] == list(range(12))


def test_overwrite_without_the_option_sets_old_events_aside_too(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert train(out, data, "-e", "1", "-b", "8", "--tensorboard").returncode == 0
    assert train(out, data, "-e", "1", "-b", "8", "--overwrite", "--seed", "5").returncode == 0
    assert not (out / "tensorboard").exists()
    # a later --resume --tensorboard shows this run's steps only: none of the old run's
    assert train(out, data, "-e", "2", "--resume", "--tensorboard").returncode == 0
    steps = [s for s, _ in scalars(events(out / "tensorboard"), "loss/generator")]
    assert steps == list(range(12, 24))


def test_a_tensorboard_folder_inside_another_runs_folder_is_refused(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    assert train(tmp_path / "first", data, "-e", "1").returncode == 0
    for inside in (tmp_path / "first", tmp_path / "first" / "tb", tmp_path / "first" / "a" / "b"):
        result = train(tmp_path / "second", data, "-e", "1", "--tensorboard", inside)
        usage_error(result, "--tensorboard", "another training run's folder")
        assert not (tmp_path / "second").exists()
    result = train(tmp_path / "third", data, "-e", "1", "--tensorboard", tmp_path / "third" / "tb")
    usage_error(result, "--tensorboard", "without DIR")


def test_links_and_resumes_cannot_lead_events_into_another_run(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    assert train(tmp_path / "other", data, "-e", "1", "--tensorboard", tmp_path / "ext").returncode == 0
    (tmp_path / "other" / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "other" / "sub")
    result = train(tmp_path / "a", data, "-e", "1", "--tensorboard", tmp_path / "link")
    usage_error(result, "--tensorboard", "another training run's folder")
    # a resume that names another run's events, or its own folder's root
    relative = os.path.relpath(tmp_path / "tbrel", ROOT)     # (the scripts run from ROOT)
    assert train(tmp_path / "r", data, "-e", "2", "--stop-after", "1", "--tensorboard",
                 relative).returncode == 0
    usage_error(train(tmp_path / "r", data, "--resume", "--tensorboard", tmp_path / "ext"),
                "--tensorboard", "already holds TensorBoard events of another run")
    usage_error(train(tmp_path / "r", data, "--resume", "--tensorboard", tmp_path / "r"),
                "--tensorboard", "inside --output")
    # kept as an absolute path: a resume from another working folder goes on there
    arguments = json.loads((tmp_path / "r" / "run.json").read_text())["arguments"]
    assert arguments["tensorboard"] == str(tmp_path / "tbrel")
    assert train(tmp_path / "r", data, "--resume").returncode == 0
    assert len(scalars(events(tmp_path / "tbrel"), "loss/generator")) == 2   # a batch an epoch


def test_a_full_disk_under_the_events_is_one_line_and_the_epoch_is_kept(tmp_path, monkeypatch):
    from tensorboard.summary.writer.record_writer import RecordWriter
    data = make_idx_folder(tmp_path / "data")
    out = tmp_path / "run"
    realStart, realWrite, realFlush, full = TensorBoardLog.start_epoch, RecordWriter.write, \
        RecordWriter.flush, []

    def fills_in_epoch_2(self, firstStep):
        if firstStep:
            full.append(1)
        return realStart(self, firstStep)

    def write(self, data):              # in TensorBoard's writer thread, which dies of it
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return realWrite(self, data)

    def flush(self):
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return realFlush(self)

    monkeypatch.setattr(TensorBoardLog, "start_epoch", fills_in_epoch_2)
    monkeypatch.setattr(RecordWriter, "write", write)
    monkeypatch.setattr(RecordWriter, "flush", flush)
    result = train(out, data, "-e", "3", "-b", "32", "--tensorboard")
    monkeypatch.undo()
    assert result.returncode == 1
    line = one_line(result.stderr)           # no traceback, the writer thread's neither
    assert line.startswith("[ERROR] --tensorboard: cannot write the events in")
    assert "the disk is full" in line and "continue with --resume" in line
    assert load_checkpoint(out / "checkpoint.pt").epoch == 2     # epoch 2 kept all the same
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert len(history(out)) == 6
    resumed = train(out, data, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert (out / "generator.pth").exists()
