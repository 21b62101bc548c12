"""Precision, recall, density, coverage and the memorisation check, against
hand computations and sets whose answer is known."""

import numpy as np
import pytest

from conftest import make_idx_folder
from pyimagesearch import data
from pyimagesearch.quality import metrics
from pyimagesearch.quality.neighbours import DC_K, memorisation, precision_recall_density_coverage


pytestmark = pytest.mark.usefixtures("private_cache")


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
def test_no_median_distance_ratio_when_the_reference_images_are_training_images():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 16)).astype(np.float32)
    fake = rng.normal(size=(100, 16)).astype(np.float32)
    copies, _, _ = memorisation(train, train[:50] + np.float32(1e-7), fake)
    assert copies["median_distance_ratio"] is None                  # not 1e7 or 1e13
    new, _, _ = memorisation(train, rng.normal(size=(50, 16)), fake)
    assert 0.5 < new["median_distance_ratio"] < 2


def test_the_memorisation_check_fires_on_a_generator_that_returns_training_images(tmp_path):
    make_idx_folder(tmp_path / "d", train=300, test=100)
    imageSet = data.load_dataset("mnist", str(tmp_path / "d"), allowDownload=False)
    trainedOn = imageSet.images[:300]                       # the GAN saw the train split only
    scorer = metrics.Scorer(imageSet, num=256, log=lambda s: None, trainedOn=trainedOn)
    copies = scorer.score_images(data.to_pixels(trainedOn[:256]))["memorisation"]
    new = scorer.score_images(data.to_pixels(imageSet.images[300:]))["memorisation"]
    assert copies["share_closer"] == 1.0 and copies["z_u"] < -5
    assert new["share_closer"] < 0.5 and new["z_u"] > copies["z_u"] + 5
