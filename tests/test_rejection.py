"""Discriminator rejection sampling and choosing the digit."""

import json
import math

import pytest
import torch
from PIL import Image
from torch import nn

from conftest import make_idx_folder, run_script, train
from pyimagesearch import rejection
from pyimagesearch.rejection import (DigitSelector, RejectionSampler, acceptance_probability,
                                     f_values)


def test_the_acceptance_probability_is_the_papers_formula():
    logits, maxLogit, gamma, eps = [0.0, -1.0, -5.0, 2.0], 2.0, 0.5, 1e-6
    for logit, p in zip(logits, acceptance_probability(logits, maxLogit, gamma, eps).tolist()):
        f = logit - maxLogit - math.log(1 - math.exp(logit - maxLogit - eps)) - gamma
        assert p == pytest.approx(1 / (1 + math.exp(-f)), rel=1e-12)
    # the sample at the maximum is (nearly) always kept; one far below, nearly never
    assert acceptance_probability([10.0], 10.0, 0.0).item() > 0.999
    assert acceptance_probability([-20.0], 10.0, 0.0).item() < 1e-12
    assert f_values([1.0], 1.0, 3.0).item() == pytest.approx(-math.log(1 - math.exp(-1e-6)) - 3)


class SignGenerator(nn.Module):
    """A stand-in generator: every pixel is the sign of the noise's first
    number, so half the samples are white, half black."""

    def __init__(self):
        super().__init__()
        self.ct1 = nn.ConvTranspose2d(100, 1, 1)

    def forward(self, z):
        return torch.sign(z[:, :1]).expand(-1, 1, 28, 28).contiguous()


def white_only(images):
    """A stand-in for calibrated logits: 0 for white images, -40 for black."""
    return torch.where(images.mean((1, 2, 3)) > 0, 0.0, -40.0).double()


def test_a_discriminator_that_rejects_half_the_samples_halves_the_acceptance_rate():
    gen = SignGenerator()
    accept_all = RejectionSampler(gen, lambda x: torch.zeros(len(x), dtype=torch.float64),
                                  "cpu", seed=0, burnIn=1000, gamma=0.0)
    reject_half = RejectionSampler(gen, white_only, "cpu", seed=0, burnIn=1000, gamma=0.0)
    _, everything = accept_all.sample(2000)
    kept, half = reject_half.sample(2000)
    assert everything["acceptance_rate"] > 0.99
    assert half["acceptance_rate"] == pytest.approx(everything["acceptance_rate"] / 2, abs=0.03)
    assert (kept > 0).all()                               # only white ones were kept


class MeanClassifier(nn.Module):
    """A stand-in evaluator with two classes: 1 for light images, 0 for dark."""

    def __init__(self):
        super().__init__()
        self.fc2 = nn.Linear(1, 2)
        with torch.no_grad():
            self.fc2.weight.copy_(torch.tensor([[-50.0], [50.0]]))
            self.fc2.bias.zero_()

    def features(self, x):
        return x.mean((1, 2, 3)).unsqueeze(1)


def test_choosing_the_digit_returns_only_that_class():
    selector = DigitSelector(SignGenerator(), MeanClassifier(), "cpu", seed=3)
    images, noise, numbers = selector.sample(1, 300, minConfidence=0.9)
    assert len(images) == 300 and (images > 0).all() and (noise[:, 0] > 0).all()
    assert numbers["acceptance_rate"] == pytest.approx(0.5, abs=0.05)
    dark, _, _ = selector.sample(0, 50)
    assert (dark < 0).all()


def test_too_few_accepted_stops_in_a_line_instead_of_looping(monkeypatch):
    selector = DigitSelector(SignGenerator(), MeanClassifier(), "cpu", seed=3)
    with pytest.raises(rejection.TooFewAccepted, match="were accepted"):
        selector.sample(1, 10, minConfidence=1.0 + 1e-9, maxDraws=5000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os
    root = tmp_path_factory.mktemp("drs")
    os.environ["DCGAN_CACHE"] = str(root / "cache")
    data = make_idx_folder(root / "data", train=400, test=200)
    assert train(root / "run", data, "-e", "2", "-b", "32").returncode == 0
    return root


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow
def test_generate_and_evaluate_with_rejection_the_digit_and_a_morph(tmp_path, trained, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE", str(trained / "cache"))
    monkeypatch.setattr(rejection, "MAX_DRAWS", 50_000)
    checkpoint = trained / "run" / "checkpoint.pt"
    scored = run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256", "--rejection",
                        "--calibration-steps", "20")
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout.splitlines()[-1])
    assert 0 < result["rejection"]["acceptance_rate"] <= 1
    assert {"fld", "recall", "precision"} <= set(result["rejection"])
    assert "with discriminator rejection sampling" in scored.stderr
    kept = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "kept.png",
                      "--rejection", "--num", "16", "--calibration-steps", "20")
    assert kept.returncode == 0, kept.stderr
    assert "rejection sampling kept" in kept.stdout and (tmp_path / "kept.png").exists()
    # the two classes this (barely trained) generator draws most
    histogram = result["class_histogram"]
    a, b = sorted(range(10), key=lambda c: -histogram[c])[:2]
    chosen = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "d.png",
                        "--digit", str(a), "--min-confidence", "0.5", "--num", "9",
                        "--morph", str(a), str(b))
    assert chosen.returncode == 0, chosen.stderr
    assert f"are a {a} with probability 0.5 or more" in chosen.stdout
    with Image.open(tmp_path / f"d-morph-{a}-{b}.gif") as gif:
        assert gif.n_frames > 4 * 12 and gif.size == (112, 112)     # there and back (equal frames merge)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["digit-out-of-range", "weights-only", "tiny-acceptance"])
def test_bad_requests_are_one_line_and_write_nothing(tmp_path, trained, monkeypatch, case):
    monkeypatch.setenv("DCGAN_CACHE", str(trained / "cache"))
    out = tmp_path / "x.png"
    if case == "digit-out-of-range":
        result = run_script("generate.py", "--checkpoint", trained / "run" / "checkpoint.pt",
                            "--output", out, "--digit", "12")
        assert "no class '12'" in one_line(result.stderr)
    elif case == "weights-only":
        result = run_script("generate.py", "--checkpoint", trained / "run" / "generator.pth",
                            "--output", out, "--rejection")
        assert "holds a generator's weights only" in one_line(result.stderr)
    else:
        monkeypatch.setattr(rejection, "MAX_DRAWS", 3000)
        result = run_script("generate.py", "--checkpoint", trained / "run" / "checkpoint.pt",
                            "--output", out, "--digit", "3", "--num", "10000")
        assert "were accepted" in [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert result.returncode == 1 and not out.exists()


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_a_confidence_outside_zero_to_one_is_refused(tmp_path, value):
    result = run_script("generate.py", "--checkpoint", tmp_path / "c.pt", "--output",
                        tmp_path / "x.png", "--digit", "3", "--min-confidence", value)
    assert result.returncode == 2 and "--min-confidence" in result.stderr
