"""Precision, recall, density, coverage; the memorisation check; the best
epoch kept; the warnings of a failing run."""

import json

import numpy as np
import pytest
import torch

from conftest import make_idx_folder, run_script, train
from pyimagesearch import data
from pyimagesearch.quality import metrics
from pyimagesearch.quality.neighbours import DC_K, memorisation, precision_recall_density_coverage
from pyimagesearch.training.monitor import discriminator_won, mode_collapse


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))


def gaussian(n, seed, d=8):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_identical_sets_are_perfect():
    real = gaussian(500, 0)
    got = precision_recall_density_coverage(real, real.copy())
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    # every sample sits in its own ball and, on average, in DC_K others'
    assert got["density"] == pytest.approx((DC_K + 1) / DC_K)


def test_two_samples_of_one_distribution_score_high_with_density_near_one():
    got = precision_recall_density_coverage(gaussian(2000, 0), gaussian(2000, 1))
    assert got["precision"] > 0.8 and got["recall"] > 0.8 and got["coverage"] > 0.8
    assert got["density"] == pytest.approx(1.0, abs=0.12)


def test_a_tight_cluster_at_one_real_point_has_low_recall_and_coverage():
    real = gaussian(500, 0)
    fake = real[0] + 1e-3 * gaussian(500, 1)
    got = precision_recall_density_coverage(real, fake)
    assert got["precision"] == 1.0                  # every sample is realistic ...
    assert got["recall"] < 0.01 and got["coverage"] < 0.05      # ... and they are all alike


def test_a_set_far_from_every_real_point_scores_zero():
    real = gaussian(300, 0)
    got = precision_recall_density_coverage(real, real + 1000)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_tiny_example_by_hand():
    # 1-D. Real 0..5; k = 3 radii (3rd nearest other real point): 3 2 2 2 2 3.
    # Fake 0.5 1.5 2.5 100 101: the first three in real balls -> precision 3/5.
    # Fake k = 3 radii are ~98-100 (the outliers stretch the fake manifold), so
    # every real point is in one -> recall 1. k = 5 real radii (the farthest
    # other point): 5 4 3 3 4 5; each of the first three fakes is in all six
    # balls, the outliers in none -> density 18 / (5 * 5) = 0.72; every real
    # point has a fake within its radius -> coverage 1.
    real = np.arange(6.0)[:, None]
    fake = np.array([0.5, 1.5, 2.5, 100.0, 101.0])[:, None]
    got = precision_recall_density_coverage(real, fake)
    assert got == pytest.approx({"precision": 0.6, "recall": 1.0, "density": 0.72, "coverage": 1.0})


def test_memorisation_rule_by_hand():
    # training points 0, 10, 20, ...; new real points sit 2..4 from them;
    # two samples are copies (distance 0), two are new (distance 3)
    train = np.arange(0, 100, 10.0)[:, None]
    reference = (train[:, 0] + np.linspace(2, 4, 10))[:, None]
    fake = np.array([[10.0], [30.0], [53.0], [77.0]])
    numbers, nearest, distance = memorisation(train, reference, fake)
    assert numbers["threshold"] == pytest.approx(np.quantile(np.linspace(2, 4, 10), 0.05))
    assert numbers["share_closer"] == 0.5 and nearest.tolist() == [1, 3, 5, 8]
    assert distance.tolist() == [0.0, 0.0, 3.0, 3.0]


@pytest.mark.slow
def test_the_memorisation_check_fires_on_a_generator_that_returns_training_images(tmp_path):
    make_idx_folder(tmp_path / "d", train=300, test=100)
    imageSet = data.load_dataset("mnist", str(tmp_path / "d"), allowDownload=False)
    trainedOn = imageSet.images[:300]                       # the GAN saw the train split only
    scorer = metrics.Scorer(imageSet, num=256, log=lambda s: None, trainedOn=trainedOn)
    copies = scorer.score_images(data.to_pixels(trainedOn[:256]))["memorisation"]
    new = scorer.score_images(data.to_pixels(imageSet.images[300:]))["memorisation"]
    assert copies["share_closer"] == 1.0 and copies["z_u"] < -5
    assert new["share_closer"] < 0.5 and new["z_u"] > copies["z_u"] + 5


def test_the_warnings_rules():
    assert discriminator_won(0.12) is None
    said = discriminator_won(0.004, bestEpoch=6)
    assert "discriminator has won" in said and "0.0040" in said and "epoch 6" in said
    earlier = {"epoch": 4, "classes_covered": 9}
    assert mode_collapse(None, {"classes_covered": 3, "num_classes": 10}, 4) is None
    assert mode_collapse(earlier, {"classes_covered": 7, "num_classes": 10}, 4) is None
    said = mode_collapse(earlier, {"classes_covered": 6, "num_classes": 10}, 4)
    assert "mode collapse" in said and "6 of 10" in said and "9 at epoch 4" in said


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
    assert "warnings" not in json.loads((tmp_path / "o" / "run.json").read_text())
    assert torch.load(tmp_path / "o" / "generator_best.pth", weights_only=True)
