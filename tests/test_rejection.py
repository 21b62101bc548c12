"""Discriminator rejection sampling and choosing the digit."""

import json
import math

import pytest
import torch
from PIL import Image
from torch import nn

from conftest import make_idx_folder, one_line, run_script, train, usage_error
from pyimagesearch.quality.selection import DigitSelector
from pyimagesearch.sampling import rejection
from pyimagesearch.sharing import drawing
from pyimagesearch.sampling.rejection import (Logits, RejectionSampler, acceptance_probability,
                                              f_values, latent_langevin)


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


class IdentityGenerator(nn.Module):
    """A stand-in generator whose "image" is its noise vector (4 numbers)."""

    def __init__(self):
        super().__init__()
        self.ct1 = nn.ConvTranspose2d(4, 1, 1)

    def forward(self, z):
        return z


class LinearDiscriminator(nn.Module):
    """A stand-in discriminator whose logit is a . x (read at fc2, as the
    article's)."""

    def __init__(self, a):
        super().__init__()
        self.fc2 = nn.Linear(4, 1)
        with torch.no_grad():
            self.fc2.weight.copy_(a.view(1, 4))
            self.fc2.bias.zero_()

    def forward(self, x):
        return torch.sigmoid(self.fc2(x.flatten(1)))


def test_latent_langevin_draws_from_the_prior_tilted_by_the_discriminator():
    """Che et al.: the chains settle in p(z) ~ N(0, I) exp(D~(G(z))). With
    G(z) = z and D~(x) = a . x that is N(a, I), whatever the start."""
    a = torch.tensor([1.5, -1.0, 0.0, 0.5])
    logits = Logits(LinearDiscriminator(a))
    z, _ = latent_langevin(IdentityGenerator(), logits, "cpu", seed=0, num=4000,
                           steps=300, stepSize=0.05)
    z = z.view(4000, 4)
    assert torch.allclose(z.mean(0), a, atol=0.1), z.mean(0)
    assert torch.allclose(z.std(0), torch.ones(4), atol=0.1), z.std(0)
    # with no discriminator term the prior stays: no drift toward a
    still, _ = latent_langevin(IdentityGenerator(), Logits(LinearDiscriminator(torch.zeros(4))),
                               "cpu", seed=0, num=4000, steps=300, stepSize=0.05)
    assert still.view(4000, 4).mean(0).abs().max() < 0.1


def test_latent_langevin_that_diverges_fails_in_one_line_instead_of_blank_samples():
    """A step so large that z overflows: the samples would be NaN (an
    all-black montage, sklearn's traceback in evaluate.py); a UserError
    says to give a smaller step instead."""
    logits = Logits(LinearDiscriminator(torch.tensor([1.5, -1.0, 0.0, 0.5])))
    with pytest.raises(rejection.UserError, match="diverged.*smaller --langevin-step-size"):
        latent_langevin(IdentityGenerator(), logits, "cpu", seed=0, num=8, steps=50,
                        stepSize=1e30)


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


def test_a_class_never_drawn_fails_in_seconds_with_the_rate_seen():
    selector = DigitSelector(SignGenerator(), MeanClassifier(), "cpu", seed=3)
    with pytest.raises(rejection.TooFewAccepted) as stopped:
        selector.sample(1, 10, minConfidence=1.0 + 1e-9, maxDraws=10**9)
    assert str(stopped.value).startswith(
        f"none of {rejection.EARLY_DRAWS:,} samples were accepted: 10 would take more draws than "
        "the limit of 1,000,000,000; ask for fewer, or accept more (a lower --min-confidence")


def test_a_selector_that_stops_names_only_the_options_that_apply():
    selector = DigitSelector(SignGenerator(), MeanClassifier(), "cpu", seed=3)
    for num, start in ((10, "ask for fewer, or accept more"), (1, "accept more")):
        with pytest.raises(rejection.TooFewAccepted) as stopped:
            selector.sample(1, num, minConfidence=1.0 + 1e-9, maxDraws=10**9)
        said = str(stopped.value)
        assert said.endswith(f"; {start} (a lower --min-confidence)"), said
        assert "--gamma-percentile" not in said      # --rejection's, not --digit's nor --morph's
    assert rejection.acceptance_message(0, 10_000, 4, 10**6).endswith(
        "ask for fewer, or accept more (a lower --gamma-percentile)")


class WhiteGenerator(SignGenerator):
    """A stand-in generator that draws only white images: MeanClassifier's class 1."""

    def forward(self, z):
        return torch.ones(len(z), 1, 28, 28)


class AlwaysThree(nn.Module):
    """A stand-in evaluator of ten classes that calls every image a 3."""

    def __init__(self):
        super().__init__()
        self.fc2 = nn.Linear(1, 10)
        with torch.no_grad():
            self.fc2.weight.zero_()
            self.fc2.bias.copy_(torch.eye(10)[3] * 5)

    def features(self, x):
        return x.mean((1, 2, 3)).unsqueeze(1)


def test_a_class_the_generator_never_draws_is_one_plain_sentence():
    selector = DigitSelector(WhiteGenerator(), MeanClassifier(), "cpu", seed=3)
    with pytest.raises(rejection.TooFewAccepted) as stopped:
        selector.sample(0, 16, minConfidence=0.1, maxDraws=2000, name="0")
    assert str(stopped.value) == ("the generator does not draw a 0: the evaluator calls none of "
                                  "2,000 of its samples one")
    selector.truncation = 0.5
    with pytest.raises(rejection.TooFewAccepted, match=r"none of 2,000 of its samples one, their "
                       r"noise truncated at T = 0\.5$"):
        selector.sample(0, 16, minConfidence=0.1, maxDraws=2000)


def test_generate_digit_of_a_class_never_drawn_says_so_and_writes_nothing(tmp_path, monkeypatch):
    from reference import article
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    data = make_idx_folder(tmp_path / "data")
    monkeypatch.setattr(drawing, "load_or_train", lambda *a, **k: (AlwaysThree(), 1.0, 1.0))
    monkeypatch.setattr(rejection, "MAX_DRAWS", 2000)
    result = run_script("generate.py", "--checkpoint", tmp_path / "g.pth", "--output",
                        tmp_path / "x.png", "--data-dir", data, "--no-download", "--digit", "7",
                        "--num", "16", "--min-confidence", "0.1", "--device", "cpu")
    assert result.returncode == 1
    assert one_line(result.stderr) == ("[ERROR] the generator does not draw a 7: the evaluator "
                                       "calls none of 2,000 of its samples one")
    assert not (tmp_path / "x.png").exists()


def test_a_request_the_rate_seen_cannot_meet_stops_early():
    assert not rejection.hopeless(accepted=5, draws=9_000, num=100, maxDraws=100_000)
    assert rejection.hopeless(accepted=5, draws=10_000, num=1000, maxDraws=1_000_000)  # 2M
    assert not rejection.hopeless(accepted=50, draws=10_000, num=1000, maxDraws=1_000_000)
    assert rejection.hopeless(accepted=999, draws=1_000_000, num=1000, maxDraws=1_000_000)


def test_a_latent_walk_of_too_many_digits_is_refused(tmp_path):
    result = run_script("generate.py", "--checkpoint", tmp_path / "c.pt", "--output",
                        tmp_path / "x.png", "--num", "10000", "--interpolate", tmp_path / "w.gif")
    usage_error(result, "--interpolate", "60 frames (--keyframes x --steps) of 10,000 digits")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("drs")
    data = make_idx_folder(root / "data", train=400, test=200)
    assert train(root / "run", data, "-e", "2", "-b", "32").returncode == 0
    return root


@pytest.fixture
def checkpoint(trained, monkeypatch):
    """The trained run's checkpoint.pt, its evaluator cached beside it."""
    monkeypatch.setenv("DCGAN_CACHE", str(trained / "cache"))
    monkeypatch.setattr(rejection, "MAX_DRAWS", 50_000)
    return trained / "run" / "checkpoint.pt"


def last_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
def test_evaluate_with_rejection_scores_the_samples_it_kept(checkpoint):
    scored = run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256", "--rejection",
                        "--calibration-steps", "20")
    kept = last_json(scored)["rejection"]
    assert 0 < kept["acceptance_rate"] <= 1 and kept["calibration_steps"] == 20
    assert {"fld", "recall", "precision"} <= set(kept)
    assert "with discriminator rejection sampling" in scored.stderr


@pytest.mark.slow
def test_generate_with_rejection_draws_a_montage_of_the_samples_it_kept(tmp_path, checkpoint):
    kept = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "kept.png",
                      "--rejection", "--num", "16", "--calibration-steps", "20")
    assert kept.returncode == 0, kept.stderr
    assert "samples kept" in kept.stdout
    with Image.open(tmp_path / "kept.png") as montage:
        assert montage.size == (4 * 28, 4 * 28)


@pytest.mark.slow
def test_evaluate_with_langevin_scores_the_samples_it_moved(checkpoint):
    moved = run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256", "--langevin",
                       "--calibration-steps", "20", "--langevin-steps", "5")
    langevin = last_json(moved)["langevin"]
    assert {"fld", "recall", "precision"} <= set(langevin)
    assert (langevin["steps"], langevin["step_size"], langevin["calibration_steps"]) == (5, 0.01, 20)
    assert "with latent Langevin sampling (5 steps of 0.01)" in moved.stderr


@pytest.mark.slow
def test_generate_with_langevin_and_no_calibration_draws_num_samples(tmp_path, checkpoint):
    drawn = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "moved.png",
                       "--langevin", "--num", "16", "--calibration-steps", "0")
    assert drawn.returncode == 0, drawn.stderr
    assert "latent Langevin sampling (50 steps of 0.01)" in drawn.stdout
    with Image.open(tmp_path / "moved.png") as montage:
        assert montage.size == (4 * 28, 4 * 28)


@pytest.mark.slow
def test_generate_a_chosen_digit_and_a_morph_from_one_to_another(tmp_path, checkpoint):
    # the two classes this (barely trained) generator draws most
    histogram = last_json(run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256"))[
        "class_histogram"]
    a, b = sorted(range(10), key=lambda c: -histogram[c])[:2]
    chosen = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "d.png",
                        "--digit", str(a), "--min-confidence", "0.5", "--num", "9",
                        "--morph", str(a), str(b))
    assert chosen.returncode == 0, chosen.stderr
    assert f"are a {a} with probability 0.5 or more" in chosen.stdout
    with Image.open(tmp_path / "d.png") as montage:
        assert montage.size == (3 * 28, 3 * 28)
    with Image.open(tmp_path / f"d-morph-{a}-{b}.gif") as gif:
        assert gif.n_frames > 4 * 12 and gif.size == (112, 112)     # there and back (equal frames merge)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["digit-out-of-range", "weights-only", "weights-only-langevin",
                                  "tiny-acceptance"])
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
    elif case == "weights-only-langevin":
        result = run_script("generate.py", "--checkpoint", trained / "run" / "generator.pth",
                            "--output", out, "--langevin")
        assert "holds a generator's weights only" in one_line(result.stderr)
    else:
        monkeypatch.setattr(rejection, "MAX_DRAWS", 3000)
        result = run_script("generate.py", "--checkpoint", trained / "run" / "checkpoint.pt",
                            "--output", out, "--digit", "3", "--num", "10000")
        assert "were accepted" in [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert result.returncode == 1 and not out.exists()


@pytest.mark.parametrize("flags, option, said", [
    (["--rejection", "--langevin"], "--langevin", "not allowed with argument --rejection"),
    (["--langevin", "--digit", "3"], "--digit", "not with --langevin"),
    (["--langevin", "--langevin-step-size", "0"], "--langevin-step-size", "a number above 0"),
    (["--langevin", "--langevin-step-size", "1e30"], "--langevin-step-size", "at most 10"),
    (["--langevin", "--langevin-steps", "0"], "--langevin-steps", "a positive integer")])
def test_samplers_that_do_not_go_together_or_zero_steps_are_refused(tmp_path, flags, option, said):
    result = run_script("generate.py", "--checkpoint", tmp_path / "c.pt", "--output",
                        tmp_path / "x.png", *flags)
    usage_error(result, option, said)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_a_confidence_outside_zero_to_one_is_refused(tmp_path, value):
    result = run_script("generate.py", "--checkpoint", tmp_path / "c.pt", "--output",
                        tmp_path / "x.png", "--digit", "3", "--min-confidence", value)
    assert result.returncode == 2 and "--min-confidence" in result.stderr


@pytest.mark.slow
def test_a_morph_from_a_class_to_itself_walks_between_two_samples(tmp_path, checkpoint):
    histogram = last_json(run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256"))[
        "class_histogram"]
    a = max(range(10), key=lambda c: histogram[c])
    drawn = run_script("generate.py", "--checkpoint", checkpoint, "--output", tmp_path / "d.png",
                       "--min-confidence", "0.5", "--num", "4", "--morph", str(a), str(a))
    assert drawn.returncode == 0, drawn.stderr
    with Image.open(tmp_path / f"d-morph-{a}-{a}.gif") as gif:
        assert gif.n_frames > 1                 # one sample to itself would be a still image


@pytest.mark.slow
def test_scoring_against_other_images_than_the_runs_warns_about_memorisation(tmp_path, trained,
                                                                             checkpoint):
    own = run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256")
    assert own.returncode == 0 and "[WARNING]" not in own.stderr
    others = make_idx_folder(tmp_path / "others", train=400, test=200, seed=5)
    scored = run_script("evaluate.py", "--checkpoint", checkpoint, "--num", "256",
                        "--data-dir", others)
    assert scored.returncode == 0, scored.stderr
    assert "[WARNING] the generator was trained on other images than IDX files in" in scored.stderr
    assert "never saw" in scored.stderr
