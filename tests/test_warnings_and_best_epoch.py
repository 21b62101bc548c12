"""The warnings of a failing run and the best epoch kept: the two rules alone,
then in a run (the best generator, run.json's warnings across a resume)."""

import json

import pytest
import torch

from conftest import load, make_idx_folder, run_script, train
from pyimagesearch.training.monitor import D_WON, QualityMonitor, discriminator_won, mode_collapse
from pyimagesearch.training.output_folder import OutputFolder
from pyimagesearch.training.record import RunRecord

pytestmark = pytest.mark.usefixtures("private_cache")


def test_the_discriminator_won_rule_and_its_threshold():
    assert discriminator_won(D_WON) is None and discriminator_won(0.12) is None
    said = discriminator_won(D_WON - 1e-4, bestEpoch=6)
    assert "discriminator has won" in said and f"{D_WON - 1e-4:.4f}" in said
    assert "generator_best.pth keeps epoch 6's generator" in said
    assert "generator_best.pth" not in discriminator_won(0.004)        # none kept yet


@pytest.mark.parametrize("classes, before, after, warns", [
    (10, 9, 7, False),      # a drop of 2 of 10 classes: under 30 %
    (10, 9, 6, True),       # 3 of 10: ceil(30 %)
    (4, 4, 3, False),       # 1 of 4: under the floor of 2
    (4, 4, 2, True),        # 2 of 4: the floor of 2
    (10, 5, 9, False),      # more classes than before: fine
])
def test_the_mode_collapse_rule_and_its_thresholds(classes, before, after, warns):
    earlier = {"epoch": 4, "classes_covered": before}
    said = mode_collapse(earlier, {"classes_covered": after, "num_classes": classes}, 3)
    assert (said is not None) == warns
    if warns:
        assert f"cover {after} of {classes} classes, {before} at epoch 4" in said
        assert "(epoch 3)" in said
    assert mode_collapse(None, {"classes_covered": 1, "num_classes": classes}, 3) is None


class ScriptedScorer:
    """Stands in for metrics.Scorer: the scores it is given, in turn."""

    def __init__(self, *scores):
        self.scores, self.cachePath = list(scores), "/somewhere/evaluator.pt"
        self.split = type("Split", (), {"description": "a seeded 20% held out"})()

    def score(self, gen):
        return dict(self.scores.pop(0))


def scores(fld, covered):
    return {"fld": fld, "real_fld": 1.0, "inception_score": 2.0, "precision": 0.5,
            "recall": 0.5, "classes_covered": covered, "num_classes": 10}


def test_the_monitor_keeps_the_best_generator_and_warns_in_the_record(tmp_path, capsys):
    folder = OutputFolder(str(tmp_path))
    record = RunRecord({"metrics": []}, str(tmp_path / "run.json"))
    monitor = QualityMonitor(folder, record, evalEvery=2, numEpochs=5, fullData=None,
                             trainedOn=None, seed=0, device="cpu", num=256)
    assert [e for e in range(5) if monitor.due(e)] == [1, 3, 4]        # every 2nd, and the last
    monitor.scorer = ScriptedScorer(scores(30.0, 10), scores(40.0, 6), scores(20.0, 9))
    gen = torch.nn.Linear(2, 2)
    monitor.evaluate(1, gen)
    kept = load(tmp_path / "generator_best.pth")
    with torch.no_grad():
        gen.weight.add_(1.0)                   # a worse generator's weights are not kept
    monitor.evaluate(3, gen)
    assert torch.equal(load(tmp_path / "generator_best.pth")["weight"], kept["weight"])
    assert record.best == {"epoch": 2, "fld": 30.0, "file": "generator_best.pth", "weights": "live"}
    assert [w["kind"] for w in record.content["warnings"]] == ["mode_collapse"]
    assert "[WARNING] epoch 4: possible mode collapse" in capsys.readouterr().err
    monitor.evaluate(4, gen)                  # better again: kept
    assert torch.equal(load(tmp_path / "generator_best.pth")["weight"], gen.weight)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["best"]["epoch"] == 5 and [e["epoch"] for e in saved["epochs"]] == [2, 4, 5]
    assert saved["evaluator"] == {"cache_file": "evaluator.pt", "split": "a seeded 20% held out"}
    monitor.check_discriminator(4, 0.001)
    assert record.content["warnings"][-1]["kind"] == "discriminator_won"
    assert "epoch 5's generator" in record.content["warnings"][-1]["message"]


@pytest.mark.slow
def test_the_best_epoch_is_kept_and_resume_continues_its_bookkeeping(tmp_path, monkeypatch):
    import pyimagesearch.training.monitor
    monkeypatch.setattr(pyimagesearch.training.monitor, "D_WON", 1.0)        # so that every epoch warns
    dataDir = make_idx_folder(tmp_path / "data", train=400, test=200)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ["-e", "4", "-b", "32", "--eval-every", "1", "--eval-num", "256"]
    assert train(whole, dataDir, *common).returncode == 0
    assert train(parts, dataDir, *common, "--stop-after", "2").returncode == 0
    resumed = train(parts, dataDir, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    saved = json.loads((whole / "metrics.json").read_text())
    flds = [e["fld"] for e in saved["epochs"]]
    assert saved["best"]["epoch"] == 1 + flds.index(min(flds)) and saved["best"]["fld"] == min(flds)
    for name in ("metrics.json", "generator_best.pth"):
        assert (whole / name).read_bytes() == (parts / name).read_bytes(), name
    run = json.loads((parts / "run.json").read_text())
    assert run["best"] == saved["best"]
    assert [w["epoch"] for w in run["warnings"]] == [1, 2, 3, 4]
    assert "[WARNING] epoch 3: the discriminator has won" in resumed.stderr
    # generator_best.pth is a generator file like any other: its FLD is the best one
    scored = run_script("evaluate.py", "--checkpoint", whole / "generator_best.pth",
                        "--data-dir", dataDir, "--num", "256", "--seed", "42",
                        "--nearest", tmp_path / "nearest.png")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout.splitlines()[-1])["fld"] == pytest.approx(min(flds), rel=1e-9)
    assert (tmp_path / "nearest.png").stat().st_size > 1000
    drawn = run_script("generate.py", "--checkpoint", whole / "generator_best.pth",
                       "--output", tmp_path / "best.png")
    assert drawn.returncode == 0


@pytest.mark.slow
def test_a_healthy_tiny_run_warns_nothing(tmp_path):
    dataDir = make_idx_folder(tmp_path / "data", train=400, test=200)
    result = train(tmp_path / "o", dataDir, "-e", "2", "-b", "32", "--eval-every", "1",
                   "--eval-num", "256")
    assert result.returncode == 0 and "[WARNING]" not in result.stderr
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert "warnings" not in record
    # the generator kept as the best is the one of the lowest FLD's epoch
    flds = [e["fld"] for e in record["metrics"]]
    assert record["best"]["fld"] == min(flds) and record["best"]["epoch"] == 1 + flds.index(min(flds))
    best = load(tmp_path / "o" / "generator_best.pth")
    last = load(tmp_path / "o" / "generator.pth")
    assert all(torch.equal(best[k], last[k]) for k in last) == (record["best"]["epoch"] == 2)
