"""generate.py: montages, single digits and latent walks from saved weights."""

import math
import os
import re

import cv2
import pytest
import torch
from PIL import Image

from reference import article
from conftest import run_script, train, usage_error
from pyimagesearch.sampling.latent import latent_walk, noise, slerp


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import make_idx_folder
    root = tmp_path_factory.mktemp("gen")
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, "-e", "1", "-b", "32").returncode == 0
    return root / "run"


def generate(*args):
    return run_script("generate.py", *args)


@pytest.mark.slow
def test_same_seed_same_digits_from_checkpoint_or_generator_pth(tmp_path, trained):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert generate("--checkpoint", trained / "checkpoint.pt", "--output", a).returncode == 0
    assert generate("--checkpoint", trained / "generator.pth", "--output", b).returncode == 0
    assert generate("--checkpoint", trained / "generator.pth", "--output", c,
                    "--seed", "1").returncode == 0
    assert (cv2.imread(str(a)) == cv2.imread(str(b))).all()
    assert not (cv2.imread(str(a)) == cv2.imread(str(c))).all()
    assert cv2.imread(str(a)).shape == (224, 224, 3)       # 64 digits: 8x8 of 28x28


def test_a_state_dict_saved_by_the_articles_code_works(tmp_path):
    torch.manual_seed(0)
    gen = article.Generator(inputDim=100, outputChannels=1)
    torch.save(gen.state_dict(), tmp_path / "article.pth")
    out = tmp_path / "x.png"
    result = generate("--checkpoint", tmp_path / "article.pth", "--output", out, "--num", "100")
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out)).shape == (280, 280, 3)     # 100 digits: 10x10


@pytest.mark.slow
def test_individual_digits_and_a_latent_walk_gif(tmp_path, trained):
    result = generate("--checkpoint", trained / "generator.pth", "--output", tmp_path / "m.png",
                      "--num", "9", "--individual", tmp_path / "digits",
                      "--interpolate", tmp_path / "walk.gif", "--keyframes", "3", "--steps", "4")
    assert result.returncode == 0, result.stderr
    digits = sorted((tmp_path / "digits").glob("digit_*.png"))
    assert len(digits) == 9
    assert cv2.imread(str(digits[0]), cv2.IMREAD_UNCHANGED).shape == (28, 28)
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 3 * 4 and gif.size == (84, 84)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "not-torch", "wrong-model", "no-folder", "not-png"])
def test_bad_paths_and_files_are_one_line_errors(tmp_path, case, trained):
    checkpoint, output = trained / "generator.pth", tmp_path / "x.png"
    if case == "missing":
        checkpoint = tmp_path / "nope.pt"
    elif case == "not-torch":
        checkpoint = tmp_path / "text.pt"
        checkpoint.write_text("hello")
    elif case == "wrong-model":
        checkpoint = tmp_path / "disc.pth"
        torch.save(article.Discriminator(depth=1).state_dict(), checkpoint)
    elif case == "no-folder":
        output = tmp_path / "missing" / "x.png"
    else:
        output = tmp_path / "x.jpgg"
    result = generate("--checkpoint", checkpoint, "--output", output)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert not output.exists()
    if case in ("no-folder", "not-png"):
        assert result.returncode == 2
    else:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and str(checkpoint) in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("option, name", [("--output", "epoch_0001.png"),
                                          ("--output", "link.png"),
                                          ("--interpolate", "output.gif")])
def test_a_runs_own_files_are_never_replaced(tmp_path, trained, option, name):
    import shutil
    run = shutil.copytree(trained, tmp_path / "run")
    if name == "link.png":                           # a link to the run's montage
        (tmp_path / "link.png").symlink_to(run / "epoch_0001.png")
        target = tmp_path / "link.png"
    else:
        target = run / name
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    args = [option, target] + (["--output", tmp_path / "m.png"] if option != "--output" else [])
    result = generate("--checkpoint", run / "generator.pth", "--num", "4", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"argument {option}" in last and "files of the training run" in last
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.slow
def test_individual_digits_never_go_into_a_run_or_onto_the_montage(tmp_path, trained):
    import shutil
    run = shutil.copytree(trained, tmp_path / "run")
    for individual, said in ((run / "tensorboard", "inside the training run's folder"),
                             (tmp_path / "m.png", "is --output's montage")):
        result = generate("--checkpoint", run / "generator.pth", "--output", tmp_path / "m.png",
                          "--num", "4", "--individual", individual)
        assert result.returncode == 2 and said in result.stderr.splitlines()[-1]
        assert not individual.exists()


@pytest.mark.slow
def test_evaluate_nearest_never_replaces_a_runs_own_files(tmp_path, trained):
    import shutil
    run = shutil.copytree(trained, tmp_path / "run")
    before = (run / "losses.png").read_bytes()
    result = run_script("evaluate.py", "--checkpoint", run / "checkpoint.pt", "--num", "256",
                        "--nearest", run / "losses.png")
    assert result.returncode == 2 and "files of the training run" in result.stderr
    assert (run / "losses.png").read_bytes() == before


def test_any_other_existing_file_is_replaced_and_the_line_says_so(tmp_path):
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    (tmp_path / "run.json").write_text("{}")         # a folder of a run: other names are free
    out = tmp_path / "mine.png"
    out.write_bytes(b"an older picture")
    result = generate("--checkpoint", tmp_path / "g.pth", "--output", out, "--num", "4")
    assert result.returncode == 0, result.stderr
    assert "(replaced the file that was there)" in result.stdout
    assert cv2.imread(str(out)).shape == (56, 56, 3)


def test_slerp_against_the_closed_form():
    a = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [0.0, 3.0]])
    assert torch.allclose(slerp(a, b, 0.0), a)
    assert torch.allclose(slerp(a, b, 1.0), b)
    # orthogonal vectors of equal length: the midpoint is on the circle at 45 degrees
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid[0], torch.tensor([1.0, 1.0]) / math.sqrt(2))
    assert torch.allclose(mid.norm(dim=1), torch.tensor([1.0, 3.0]))
    # a third of the way: 30 degrees
    assert torch.allclose(slerp(a, b, 1 / 3)[0], torch.tensor([math.cos(math.pi / 6), 0.5]))
    # parallel vectors: a straight line, not a division by zero
    assert torch.allclose(slerp(a[:1], 2 * a[:1], 0.5), torch.tensor([[1.5, 0.0]]))


def test_latent_walk_visits_its_keyframes_and_loops_back_to_the_start():
    walk = latent_walk(num=4, keyframes=3, steps=5, seed=0).view(15, 4, 100)
    points = noise(12, seed=0).view(3, 4, 100)
    assert torch.allclose(walk[0], points[0])
    assert torch.allclose(walk[5], points[1]) and torch.allclose(walk[10], points[2])
    # the last frames head from the last keyframe back to the first
    assert torch.allclose(walk[-1], slerp(points[2], points[0], 4 / 5))


# ------------------------------------------------------------------ issue 38

def conditional_generator(folder):
    """A conditional generator's state_dict (10 classes, untrained): drawn
    without the evaluator or any data."""
    from pyimagesearch.models import model_classes
    torch.manual_seed(0)
    torch.save(model_classes(28, 10)[0](inputDim=100, outputChannels=1).state_dict(),
               folder / "cond.pth")
    return folder / "cond.pth"


def article_generator(folder):
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), folder / "g.pth")
    return folder / "g.pth"


@pytest.mark.parametrize("script, ending", [
    ("generate.py", "walks from one class to the other with the same noise (docs/conditional.md)."),
    ("evaluate.py", "the last line of standard output is one JSON object with every number, "
                    "for scripts.")])
def test_help_shows_the_whole_description(script, ending):
    result = run_script(script, "--help")
    assert result.returncode == 0
    description = " ".join(result.stdout.split("options:")[0].split("\n\n", 1)[1].split())
    assert description.endswith(ending), description


def test_morph_and_single_digits_say_which_files_they_replaced(tmp_path):
    checkpoint = conditional_generator(tmp_path)
    out, digits = tmp_path / "m.png", tmp_path / "digits"
    flags = ["--checkpoint", checkpoint, "--output", out, "--morph", "3", "8", "--steps", "1",
             "--individual", digits, "--device", "cpu"]
    first = generate(*flags, "--num", "4")
    assert first.returncode == 0, first.stderr
    assert "replaced" not in first.stdout
    (tmp_path / "m-morph-3-8.gif").write_bytes(b"an older walk")
    again = generate(*flags, "--num", "2")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    morph = [line for line in lines if "m-morph-3-8.gif" in line]
    assert morph and morph[0].endswith("(replaced the file that was there)")
    with Image.open(tmp_path / "m-morph-3-8.gif") as gif:
        assert gif.n_frames > 1
    single = [line for line in lines if "single digits" in line][0]
    assert single.endswith("(replaced 2 files that were there: digit_0000_class_0.png, "
                           "digit_0001_class_0.png; 2 older digit_*.png are left there as "
                           "they were)"), single


@pytest.mark.slow
def test_evaluate_nearest_says_it_replaced_a_file(tmp_path, trained):
    mine = tmp_path / "nearest.png"
    mine.write_bytes(b"an older picture")
    result = run_script("evaluate.py", "--checkpoint", trained / "checkpoint.pt", "--num", "256",
                        "--nearest", mine)
    assert result.returncode == 0, result.stderr
    line = [line for line in result.stderr.splitlines() if "wrote" in line][0]
    assert line.endswith("(replaced the file that was there)")
    assert cv2.imread(str(mine)) is not None


@pytest.mark.parametrize("script, flags, option, said", [
    ("generate.py", ["--morph", "3", "8", "--steps", "50000000"], "--steps",
     "a positive integer of at most 250, got 50000000"),
    ("generate.py", ["--interpolate", "TMP/w.gif", "--steps", "251"], "--steps", "at most 250"),
    ("generate.py", ["--langevin", "--langevin-steps", "1001"], "--langevin-steps",
     "at most 1,000"),
    ("generate.py", ["--rejection", "--calibration-steps", "10001"], "--calibration-steps",
     "0 or a positive integer of at most 10,000"),
    ("evaluate.py", ["--truncation-curve"] + ["1"] * 21, "--truncation-curve",
     "at most 20 values of T"),
    ("evaluate.py", ["--langevin", "--calibration-steps", "99999999"], "--calibration-steps",
     "at most 10,000"),
])
def test_every_count_has_a_bound_checked_before_any_work(tmp_path, script, flags, option, said):
    from conftest import usage_error
    checkpoint = article_generator(tmp_path)
    out = ["--output", tmp_path / "x.png"] if script == "generate.py" else []
    flags = [tmp_path / f[4:] if f.startswith("TMP/") else f for f in flags]
    result = run_script(script, "--checkpoint", checkpoint, *out, *flags)
    usage_error(result, option, said)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pth"]


@pytest.mark.parametrize("script, option, bound", [
    ("generate.py", "--num", "at most 10000"), ("generate.py", "--steps", "at most 250"),
    ("generate.py", "--keyframes", "at most 100000"),
    ("generate.py", "--langevin-steps", "1 to 1000"),
    ("generate.py", "--calibration-steps", "0 to 10000"),
    ("evaluate.py", "--num", "from 256 to 100000"),
    ("evaluate.py", "--truncation-curve", "at most 20 T"),
    ("dcgan_mnist.py", "--eval-num", "from 256 to 100000")])
def test_help_states_each_counts_bound(script, option, bound):
    options = run_script(script, "--help").stdout.split("options:")[1]
    entries = {entry.split()[0]: " ".join(entry.split())
               for entry in re.split(r"\n  (?=-)", options) if entry.strip()}
    assert bound in entries[option], entries[option]


@pytest.mark.parametrize("flags, option", [
    (["--individual", "d" * 300], "--individual"),
    (["--individual", "a/" + "d" * 256 + "/b"], "--individual"),
    (["--output", "o" * 245 + ".png"], "--output"),      # 249 bytes: its temporary name is not
    (["--morph", "3", "8", "--individual", "digits"], "--morph"),
])
def test_a_name_too_long_is_refused_before_anything_is_written(tmp_path, flags, option):
    from conftest import usage_error
    checkpoint = conditional_generator(tmp_path)
    flags = [tmp_path / f if isinstance(f, str) and len(f) > 100 or f == "digits" else f
             for f in flags]
    out = [] if option == "--output" else ["--output", tmp_path / ("m" * 235 + ".png")]
    result = generate("--checkpoint", checkpoint, *out, "--num", "4", *flags)
    usage_error(result, option, "bytes long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cond.pth"]
@pytest.mark.parametrize("script", ["evaluate.py", "generate.py"])
def test_a_data_dir_the_user_names_is_never_replaced_by_the_embedded_digits(tmp_path, script):
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    missing = tmp_path / "nowhere"
    extra = ["--num", "256"] if script == "evaluate.py" else ["--digit", "7", "--output",
                                                            tmp_path / "x.png"]
    result = run_script(script, "--checkpoint", tmp_path / "g.pth", "--data-dir", missing,
                        "--no-download", *extra)
    usage_error(result, "--data-dir", f"{missing} does not exist")
    assert "EMBEDDED" not in result.stderr and "Training" not in result.stderr + result.stdout
    # a folder that is there but holds no images: said when it is read
    missing.mkdir()
    result = run_script(script, "--checkpoint", tmp_path / "g.pth", "--data-dir", missing,
                        "--no-download", *extra)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(missing) in result.stderr.strip().splitlines()[-1]
    assert "EMBEDDED" not in result.stderr and "Training" not in result.stderr + result.stdout


@pytest.mark.parametrize("script", ["generate.py", "demo.py"])
def test_a_named_data_dir_that_is_not_there_is_said_even_where_it_is_not_read(tmp_path, script):
    """A conditional generator draws without real images; a --data-dir the
    user named and mistyped is still an error, not ignored (#38)."""
    extra = (["--output", tmp_path / "x.png"] if script == "generate.py"
             else ["--host", "no-such-host.invalid"])      # without the check: never serves
    result = run_script(script, "--checkpoint", conditional_generator(tmp_path),
                        "--data-dir", tmp_path / "nowhere", *extra)
    usage_error(result, "--data-dir", "does not exist")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("folder", ["/proc/nope", "/sys/nope"])
def test_an_individual_folder_that_cannot_be_made_is_refused_before_the_montage(
        tmp_path, folder):
    # /proc and a read-only /sys pass os.access for root, and take no folder
    if not os.path.isdir(os.path.dirname(folder)) or os.path.exists(folder):
        pytest.skip(f"no {os.path.dirname(folder)} here")
    checkpoint = conditional_generator(tmp_path)
    result = generate("--checkpoint", checkpoint, "--num", "4", "--output", tmp_path / "p.png",
                      "--individual", folder)
    usage_error(result, "--individual", os.path.dirname(folder))
    assert not (tmp_path / "p.png").exists()
