"""generate.py and evaluate.py on a conditional generator (--conditional):
told the class, no evaluator; one class a row; a walk between classes with
the same noise; the class in each file's name; the per-class scores; the
refusals."""

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import make_idx_folder, one_line, run_script, train
from reference import article
from pyimagesearch import visualize
from pyimagesearch.checkpoint import build_generator
from pyimagesearch.errors import UserError
from pyimagesearch.quality.selection import (class_label, label_of, montage_rows,
                                             recorded_class_names)
from pyimagesearch.sampling import latent
from pyimagesearch.sharing import drawing


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    """A tiny conditional run (2 epochs, seconds): its checkpoint.pt,
    generator.pth and data (100 held-out images: 10 a class, enough for the
    per-class FLD)."""
    root = tmp_path_factory.mktemp("conditional-downstream")
    data = make_idx_folder(root / "data", train=64, test=100)
    result = train(root / "run", data, "-e", "2", "-b", "16", "--conditional", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    return root / "run"


def generate(*args):
    return run_script("generate.py", *args, "--device", "cpu")


def montage_of(gen, num, classes, seed=0):
    """What generate.py should draw: `num` cells from --seed's noise, told
    `classes` (N,), in build_montage's grid (BGR uint8)."""
    images = latent.generate(gen, latent.noise(num, seed, 100), "cpu", classes)
    return visualize.build_montage(images)


def no_evaluator(monkeypatch):
    """generate.py may neither load the training images nor train or load
    the evaluator."""
    def refuse(*args, **kwargs):
        raise AssertionError("a conditional generator was filtered by the evaluator")
    monkeypatch.setattr(drawing, "load_or_train", refuse)
    monkeypatch.setattr(drawing, "load_training_data", refuse)


# ------------------------------------------------------------------ the parts alone

def test_the_montages_rows_are_one_class_each_in_order_and_start_again():
    assert montage_rows(16, 10).tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert montage_rows(10, 10).tolist() == [0] * 4 + [1] * 4 + [2] * 2     # a 4x4 grid
    rows = montage_rows(144, 10).view(12, 12)
    assert all((row == row[0]).all() for row in rows)
    assert rows[:, 0].tolist() == list(range(10)) + [0, 1]
    assert montage_rows(9, 2).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_the_class_walk_moves_the_code_in_a_straight_line_with_the_noise_fixed():
    codes = latent.class_codes(3, 8, 10, 4)
    assert codes.shape == (5, 10)
    assert torch.equal(codes[0], torch.eye(10)[3]) and torch.equal(codes[-1], torch.eye(10)[8])
    assert torch.allclose(codes[2], 0.5 * torch.eye(10)[3] + 0.5 * torch.eye(10)[8])
    assert torch.allclose(codes.sum(1), torch.ones(5))
    torch.manual_seed(0)
    from pyimagesearch.models import model_classes
    gen = model_classes(28, 10)[0](inputDim=100, outputChannels=1).eval()
    z = torch.randn(1, 100, 1, 1)
    walk = latent.class_morph(gen, z, 3, 8, 10, 4, "cpu")
    with torch.no_grad():
        assert torch.allclose(walk[0], gen(z, torch.tensor([3]))[0], atol=1e-6)
        assert torch.allclose(walk[-1], gen(z, torch.tensor([8]))[0], atol=1e-6)
        assert torch.allclose(walk[2], gen(z, codes[2:3])[0], atol=1e-6)


def test_class_names_come_from_the_record_or_are_numbers():
    run = {"generator": {}, "args": {"dataset": "folder"},
           "run": {"metrics": [{"class_names": ["blue", "red"]}]}}
    assert recorded_class_names(run, 2) == ["blue", "red"]
    assert recorded_class_names(run, 3) is None                     # not this generator's
    fashion = {"generator": {}, "args": {"dataset": "fashion-mnist"}, "run": {"metrics": []}}
    assert recorded_class_names(fashion, 10)[9] == "Ankle boot"
    assert recorded_class_names({"ct1.weight": torch.zeros(1)}, 10) is None   # weights only
    assert class_label("red", ["blue", "red"], 2) == 1
    assert class_label("1", ["blue", "red"], 2) == 1
    assert class_label("9", None, 10) == 9
    for name, said in [("12", "no class '12': the generator draws 10 classes: 0 to 9"),
                       ("seven", "does not record their names"), ("-1", "no class '-1'")]:
        with pytest.raises(UserError, match=said):
            class_label(name, None, 10)
    with pytest.raises(UserError, match="blue, red"):
        class_label("green", ["blue", "red"], 2)


# ------------------------------------------------------------------ generate.py

@pytest.mark.slow
@pytest.mark.parametrize("file", ["checkpoint.pt", "generator.pth"])
def test_digit_draws_the_class_directly_without_the_evaluator_or_data(tmp_path, conditional,
                                                                      monkeypatch, file):
    no_evaluator(monkeypatch)
    out = tmp_path / "sevens.png"
    result = generate("--checkpoint", conditional / file, "--output", out, "--digit", "7",
                      "--num", "9")
    assert result.returncode == 0, result.stderr
    assert "drew 9 of class 7 by telling the conditional generator the class" in result.stdout
    gen, _ = build_generator(conditional / "checkpoint.pt")
    assert np.array_equal(cv2.imread(str(out)), montage_of(gen, 9, torch.full((9,), 7)))


@pytest.mark.slow
def test_without_digit_the_montage_has_one_class_a_row(tmp_path, conditional, monkeypatch):
    no_evaluator(monkeypatch)
    out = tmp_path / "rows.png"
    result = generate("--checkpoint", conditional / "generator.pth", "--output", out,
                      "--num", "16", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "one class a row, from the top: 0, 1, 2, 3" in result.stdout
    gen, _ = build_generator(conditional / "generator.pth")
    rows = torch.tensor([0] * 4 + [1] * 4 + [2] * 4 + [3] * 4)     # a 4x4 grid, row by row
    drawn = cv2.imread(str(out))
    assert np.array_equal(drawn, montage_of(gen, 16, rows, seed=3))
    assert not np.array_equal(drawn, montage_of(gen, 16, torch.zeros(16, dtype=torch.long), 3))


@pytest.mark.slow
def test_morph_walks_between_classes_with_the_same_noise(tmp_path, conditional, monkeypatch):
    no_evaluator(monkeypatch)
    written = {}
    original = visualize.write_digit_gif

    def keep(path, frames, duration=500):
        written[str(path)] = frames
        original(path, frames, duration)
    monkeypatch.setattr(visualize, "write_digit_gif", keep)
    result = generate("--checkpoint", conditional / "checkpoint.pt", "--output", tmp_path / "m.png",
                      "--num", "4", "--morph", "3", "8", "--steps", "2")
    assert result.returncode == 0, result.stderr
    assert "the same noise, the class code moving" in result.stdout
    frames = written[str(tmp_path / "m-morph-3-8.gif")]
    assert len(frames) == 2 * 8                                 # 9 there, 7 back
    gen, _ = build_generator(conditional / "checkpoint.pt")
    z = latent.noise(1, 0, 100)
    for index, code in [(0, torch.eye(10)[3]), (4, (torch.eye(10)[3] + torch.eye(10)[8]) / 2),
                        (8, torch.eye(10)[8])]:
        expected = visualize.build_montage(latent.generate(gen, z, "cpu", code[None]))
        assert np.array_equal(frames[index], expected.repeat(4, axis=0).repeat(4, axis=1)), index
    assert (tmp_path / "m-morph-3-8.gif").exists()


@pytest.mark.slow
def test_single_digits_carry_their_class_and_the_walk_keeps_each_cells_class(tmp_path, conditional,
                                                                               monkeypatch):
    no_evaluator(monkeypatch)
    written = {}
    monkeypatch.setattr(visualize, "write_digit_gif",
                        lambda path, frames, duration=500: written.update({str(path): frames}))
    result = generate("--checkpoint", conditional / "generator.pth", "--output", tmp_path / "m.png",
                      "--num", "9", "--individual", tmp_path / "digits",
                      "--interpolate", tmp_path / "walk.gif", "--keyframes", "2", "--steps", "2")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "digits").iterdir())
    assert names == [f"digit_{i:04d}_class_{i // 3}.png" for i in range(9)]
    gen, _ = build_generator(conditional / "generator.pth")
    walk = latent.latent_walk(9, 2, 2, 0, 100)
    rows = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    frames = written[str(tmp_path / "walk.gif")]
    assert len(frames) == 4
    for k in (0, 1):
        expected = visualize.build_montage(latent.generate(gen, walk[k], "cpu", rows))
        assert np.array_equal(frames[k], expected)


@pytest.mark.slow
def test_digit_with_individual_names_every_file_the_class(tmp_path, conditional, monkeypatch):
    no_evaluator(monkeypatch)
    result = generate("--checkpoint", conditional / "checkpoint.pt", "--output", tmp_path / "m.png",
                      "--num", "3", "--digit", "7", "--individual", tmp_path / "digits")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == [
        "digit_0000_class_7.png", "digit_0001_class_7.png", "digit_0002_class_7.png"]


@pytest.mark.slow
@pytest.mark.parametrize("file, flags, said", [
    ("checkpoint.pt", ["--digit", "12"], "no class '12': the generator draws 10 classes: 0, 1"),
    ("checkpoint.pt", ["--digit", "seven"], "no class 'seven'"),
    ("checkpoint.pt", ["--morph", "3", "12"], "no class '12'"),
    ("generator.pth", ["--digit", "cat"], "0 to 9 (the file does not record their names)"),
    ("checkpoint.pt", ["--rejection"], "--rejection works with an unconditional generator only"),
    ("checkpoint.pt", ["--langevin"], "--langevin works with an unconditional generator only"),
])
def test_bad_requests_on_a_conditional_generator_are_one_line_and_write_nothing(
        tmp_path, conditional, monkeypatch, file, flags, said):
    no_evaluator(monkeypatch)
    result = generate("--checkpoint", conditional / file, "--output", tmp_path / "x.png", *flags)
    assert result.returncode == 1
    assert said in one_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_superscript_digit_is_no_class_in_one_line(tmp_path, monkeypatch):
    """'²' passes str.isdigit(), and int('²') raises: it is no class."""
    for name in ("²", "٣"):
        with pytest.raises(UserError, match=f"no class '{name}'"):
            class_label(name, None, 10)
        with pytest.raises(UserError, match=f"no class '{name}'"):
            label_of(name, [str(c) for c in range(10)])
    # told the class (no evaluator), and filtered by it (refused before it is asked)
    torch.manual_seed(0)
    from pyimagesearch.models import model_classes
    torch.save(model_classes(28, 10)[0](inputDim=100, outputChannels=1).state_dict(),
               tmp_path / "cond.pth")
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    data = make_idx_folder(tmp_path / "data")

    def evaluator(*args, **kwargs):
        raise AssertionError("the evaluator was asked")
    monkeypatch.setattr(drawing, "load_or_train", evaluator)
    for checkpoint, flags in (("cond.pth", ["--digit", "²"]), ("cond.pth", ["--morph", "²", "3"]),
                              ("g.pth", ["--digit", "²"]), ("g.pth", ["--morph", "3", "²"])):
        result = generate("--checkpoint", tmp_path / checkpoint, "--output", tmp_path / "x.png",
                          "--data-dir", data, "--no-download", *flags)
        assert result.returncode == 1
        assert one_line(result.stderr).endswith(
            "no class '²': the generator draws 10 classes: 0 to 9 (the file does not record "
            "their names)" if checkpoint == "cond.pth" else
            "no class '²': the classes are 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"), result.stderr
        assert not (tmp_path / "x.png").exists()


def test_digit_on_an_unconditional_generator_still_asks_the_evaluator(tmp_path, monkeypatch):
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    data = make_idx_folder(tmp_path / "data")

    def evaluator(*args, **kwargs):
        raise UserError("the evaluator was asked")
    monkeypatch.setattr(drawing, "load_or_train", evaluator)
    result = generate("--checkpoint", tmp_path / "g.pth", "--output", tmp_path / "x.png",
                      "--digit", "7", "--data-dir", data, "--no-download")
    assert result.returncode == 1 and "the evaluator was asked" in one_line(result.stderr)
    assert not (tmp_path / "x.png").exists()


# ------------------------------------------------------------------ evaluate.py

@pytest.mark.slow
def test_evaluate_reports_the_conditioning_and_each_classs_scores(conditional):
    result = run_script("evaluate.py", "--checkpoint", conditional / "checkpoint.pt", "--num", "256",
                        "--device", "cpu")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.splitlines()[-1])
    numbers = scores["conditioning"]
    perClass = numbers["per_class"]
    assert list(perClass) == [str(c) for c in range(10)]
    assert sum(n["samples"] for n in perClass.values()) == 256            # class-balanced
    assert {n["samples"] for n in perClass.values()} == {25, 26}
    assert all({"accuracy", "fld", "recall"} <= set(n) for n in perClass.values())
    assert numbers["mean_class_fld"] == pytest.approx(
        sum(n["fld"] for n in perClass.values()) / 10)
    assert numbers["worst_accuracy"] == min(n["accuracy"] for n in perClass.values())
    said = result.stderr
    assert f"worst class {numbers['worst_class']}" in said
    assert f"mean FLD {numbers['mean_class_fld']:.3f}" in said
    for name, n in perClass.items():
        assert (f"class {name}: as asked {n['accuracy']:.1%} of {n['samples']}, FLD "
                f"{n['fld']:.3f}, recall {n['recall']:.3f}") in said


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["--rejection", "--langevin"])
def test_evaluate_refuses_the_discriminators_samplers_on_a_conditional_generator(conditional,
                                                                                 sampler):
    result = run_script("evaluate.py", "--checkpoint", conditional / "checkpoint.pt", "--num", "256",
                        sampler, "--device", "cpu")
    assert result.returncode == 1
    assert f"{sampler} works with an unconditional generator only" in one_line(result.stderr)
    assert result.stdout == ""
