"""The quality metrics against known answers, the evaluator, evaluate.py."""

import csv
import json

import pytest
import torch

from reference import article
from conftest import make_idx_folder, run_script, train
from pyimagesearch import data
from pyimagesearch.data import sources
from pyimagesearch.quality import evaluator, metrics
from pyimagesearch.dcgan import Generator


pytestmark = pytest.mark.usefixtures("private_cache")


def test_frechet_distance_of_identical_feature_sets_is_zero():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert metrics.frechet_distance_features(x, x) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_of_two_gaussians_is_the_closed_form():
    # shared eigenbasis: tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt(a) - sqrt(b))^2
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1),
                                       dtype=torch.float64))
    a = torch.tensor([1.0, 4.0, 9.0, 0.25], dtype=torch.float64)
    b = torch.tensor([4.0, 1.0, 9.0, 1.00], dtype=torch.float64)
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    mu1 = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    mu2 = torch.tensor([1.0, 1.0, 0.0, 3.0], dtype=torch.float64)
    expected = 1 + 4 + ((a.sqrt() - b.sqrt()) ** 2).sum().item()      # = 5 + 1 + 1 + 0 + 0.25
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
    one = metrics.frechet_distance(torch.tensor([2.0]), torch.tensor([[9.0]]),
                                   torch.tensor([-1.0]), torch.tensor([[1.0]]))
    assert one == pytest.approx(9 + 4)


def test_frechet_distance_matches_scipy_for_non_commuting_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(5, dtype=torch.float64), b @ b.T
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    cross = linalg.sqrtm((s1 @ s2).numpy()).real.trace()
    expected = ((mu1 - mu2) ** 2).sum().item() + s1.trace().item() + s2.trace().item() - 2 * cross
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_from_samples_approaches_the_population_value():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(100_000, 2, generator=g, dtype=torch.float64)
    y = torch.randn(100_000, 2, generator=g, dtype=torch.float64) * 2 + torch.tensor([3.0, 0.0], dtype=torch.float64)
    # ||(3, 0)||^2 + 2 * (1 - 2)^2 = 11
    assert metrics.frechet_distance_features(x, y) == pytest.approx(11, rel=0.01)


def test_inception_score_extremes():
    assert metrics.inception_score(torch.eye(10).repeat(7, 1)) == pytest.approx(10)
    assert metrics.inception_score(torch.eye(10)[[3] * 50]) == pytest.approx(1)
    assert metrics.inception_score(torch.full((20, 10), 0.1)) == pytest.approx(1)
    # two classes, always certain, 50/50: exp(log 2) = 2
    assert metrics.inception_score(torch.eye(10)[[0, 1] * 10]) == pytest.approx(2)


def test_class_histogram_and_classes_covered():
    probs = torch.eye(4)[[0, 0, 0, 0, 1, 1, 2, 3]]      # fair share 2; half of it 1
    assert metrics.class_histogram(probs) == [4, 2, 1, 1]
    assert metrics.classes_covered([4, 2, 1, 1]) == 4
    assert metrics.classes_covered([7, 1, 0, 0]) == 2
    assert metrics.classes_covered([100, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == 1


def _tiny_set(tmp_path, train=300, test=100):
    make_idx_folder(tmp_path / "d", train=train, test=test)
    return sources.load_dataset("mnist", str(tmp_path / "d"), allowDownload=False)


@pytest.mark.slow
def test_evaluator_is_deterministic_accurate_and_cached(tmp_path):
    imageSet = _tiny_set(tmp_path)
    split = evaluator.split_real(imageSet)
    assert len(split.trainImages) == 300 and len(split.heldOutImages) == 100   # official splits
    said = []
    model, acc, path = evaluator.load_or_train(split, seed=0, log=said.append)
    assert any("training the evaluator" in s for s in said)
    assert acc > 0.95                    # the toy classes are easy
    again, _ = evaluator.train_classifier(split, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))
    said.clear()
    cached, accCached, pathCached = evaluator.load_or_train(split, seed=0, log=said.append)
    assert not said and pathCached == path and accCached == acc
    assert torch.equal(cached.fc2.weight, model.fc2.weight)
    # other images: another cache entry
    other = evaluator.split_real(_tiny_set(tmp_path / "other", train=200, test=100))
    assert evaluator.cache_key(other, 0, "cpu") != evaluator.cache_key(split, 0, "cpu")
    # a planted or broken entry under the right name is never trusted
    planted = dict(torch.load(path, weights_only=True))
    planted["model"] = {k: torch.zeros_like(v) for k, v in planted["model"].items()}
    for bad, why in ((planted, "its accuracy on the held-out images is not the one it claims"),
                     (dict(planted, num_classes=3), "made for other classes"),
                     (dict(planted, version=-1), "another version's"),
                     ([1, 2, 3], "another version's")):
        torch.save(bad, path)
        assert evaluator._cached(path, split, "cpu") == (None, None, why)
    (tmp_path / "torn.pt").write_bytes(b"PK\3\4 torn")
    assert "unreadable" in evaluator._cached(str(tmp_path / "torn.pt"), split, "cpu")[2]
    said.clear()                                    # ... and the script says so, and retrains
    retrained, accAgain, _ = evaluator.load_or_train(split, seed=0, log=said.append)
    assert "another version's" in said[0] and "training it again" in said[0]
    assert accAgain == acc and torch.equal(retrained.fc2.weight, model.fc2.weight)


def test_one_split_holds_out_a_seeded_fifth():
    imageSet = data.ImageSet(images=torch.zeros(50, 1, 28, 28, dtype=torch.uint8),
                             labels=torch.arange(50) % 10, source="x", splits={"test": 50})
    split = evaluator.split_real(imageSet, seed=0)
    assert len(split.heldOutImages) == 10 and len(split.trainImages) == 40


def test_training_the_evaluator_leaves_the_global_random_state_alone(tmp_path):
    split = evaluator.split_real(_tiny_set(tmp_path, train=60, test=20))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluator.train_classifier(split, seed=0)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.slow
def test_real_images_score_better_than_an_untrained_generator(tmp_path):
    imageSet = _tiny_set(tmp_path)
    scorer = metrics.Scorer(imageSet, num=200, log=lambda s: None)
    torch.manual_seed(0)
    untrained = Generator()
    untrained.apply(article.weights_init)
    bad = scorer.score(untrained)
    real = scorer.score_images(data.to_pixels(imageSet.images[:200]))
    assert real["fld"] < bad["fld"] / 10
    assert real["inception_score"] > bad["inception_score"]
    assert real["classes_covered"] == 10 and sum(bad["class_histogram"]) == 200


@pytest.mark.slow
def test_evaluate_py_end_to_end_and_a_trained_generator_beats_an_untrained_one(tmp_path):
    dataDir = make_idx_folder(tmp_path / "data", train=400, test=200)
    out = tmp_path / "run"
    result = train(out, dataDir, "-e", "6", "-b", "32", "--eval-every", "3", "--eval-num", "500")
    assert result.returncode == 0, result.stderr
    assert "[INFO] epoch 3: FLD" in result.stdout and "[INFO] epoch 6: FLD" in result.stdout
    saved = json.loads((out / "metrics.json").read_text())
    assert [m["epoch"] for m in saved["epochs"]] == [3, 6]
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows if r["fld"]] == [3, 6]    # the epochs' last rows
    assert float(rows[-1]["fld"]) == pytest.approx(saved["epochs"][-1]["fld"], rel=1e-5)
    assert all(r["fld_ema"] == "" for r in rows)                    # no --ema

    torch.manual_seed(0)
    untrained = Generator()
    untrained.apply(article.weights_init)
    torch.save(untrained.state_dict(), tmp_path / "untrained.pth")

    scores = {}
    for name, path in (("trained", out / "checkpoint.pt"), ("untrained", tmp_path / "untrained.pth")):
        run = run_script("evaluate.py", "--checkpoint", path, "--data-dir", dataDir, "--num", "500")
        assert run.returncode == 0, run.stderr
        assert "FLD" in run.stderr and "Inception Score" in run.stderr
        scores[name] = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("fld", "real_fld", "inception_score", "class_histogram", "classes_covered",
                "precision", "recall", "density", "coverage", "memorisation",
                "evaluator_accuracy"):
        assert key in scores["trained"]
    # evaluate.py reproduces the run's own last evaluation (same seed and count)
    assert scores["trained"]["fld"] == pytest.approx(saved["epochs"][-1]["fld"], rel=1e-9)
    assert scores["trained"]["fld"] < scores["untrained"]["fld"]
    assert scores["trained"]["inception_score"] > scores["untrained"]["inception_score"]
    assert scores["trained"]["classes_covered"] > scores["untrained"]["classes_covered"]


def test_held_out_images_that_are_training_images_are_said_and_no_ratio_is_made_up(tmp_path):
    dataDir = make_idx_folder(tmp_path / "data", train=200, test=0, gz=False)
    for kind in ("images-idx3", "labels-idx1"):                  # the test files: copies
        (dataDir / f"t10k-{kind}-ubyte").write_bytes((dataDir / f"train-{kind}-ubyte").read_bytes())
    torch.manual_seed(0)
    torch.save(Generator().state_dict(), tmp_path / "g.pth")
    run = run_script("evaluate.py", "--checkpoint", tmp_path / "g.pth", "--data-dir", dataDir,
                     "--num", "256")
    assert run.returncode == 0, run.stderr
    assert "[WARNING] 200 of the 200 held-out images are also training images" in run.stderr
    assert "(200 of them are training images)" in run.stderr
    scores = json.loads(run.stdout.strip().splitlines()[-1])
    assert scores["held_out_in_train"] == 200
    # each reference image's nearest other training image is its copy: distance 0
    assert scores["memorisation"]["median_distance_ratio"] is None
    assert "no median distance ratio (the reference images are training images" in run.stderr


def test_evaluate_py_bad_checkpoint_is_one_line(tmp_path):
    result = run_script("evaluate.py", "--checkpoint", tmp_path / "none.pt")
    assert result.returncode == 1 and "none.pt" in result.stderr
    assert "Traceback" not in result.stderr
