"""The generator as a data set (issue 39): generate.py --write-dataset
written whole and read back by the project's readers and torchvision's
ImageFolder; evaluate.py --cas (a classifier trained on generated digits,
tested on held-out real ones) and its refusal to test on digits the
generator learned from; the demo's download."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_idx_folder, one_line, run_script, train, usage_error
from pyimagesearch.data.folder import load_image_folder
from pyimagesearch.data.idx import find_idx_files, load_idx_folder
from pyimagesearch.errors import UserError
from pyimagesearch.models import model_classes
from pyimagesearch.sampling import latent


def conditional_generator(folder, seed=0, name="cond.pth"):
    """An untrained conditional generator (10 classes) saved as a state_dict."""
    torch.manual_seed(seed)
    gen = model_classes(28, 10)[0](inputDim=100, outputChannels=1)
    torch.save(gen.state_dict(), folder / name)
    return folder / name, gen.eval()


def generate(*args):
    return run_script("generate.py", *args, "--device", "cpu")


def expected_digits(gen, num, seed, truncation=None):
    """What the issue asks for, from the sampling primitives: sample i told
    class i mod 10, as uint8 (the article's x * 127.5 + 127.5)."""
    labels = torch.arange(num) % 10
    images = latent.generate(gen, latent.noise(num, seed, 100, truncation), "cpu", labels)
    return images.mul(127.5).add(127.5).to(torch.uint8), labels


def test_a_folder_data_set_reads_back_as_the_digits_asked_for(tmp_path):
    from torchvision.datasets import ImageFolder
    checkpoint, gen = conditional_generator(tmp_path)
    result = generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / "ds",
                      "--num", "30", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "wrote 30 digits, 3 of each of the 10 classes (seed 3, untruncated)" in result.stdout
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == \
        sorted([str(c) for c in range(10)] + ["manifest.json"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no leftovers
    images, labels = expected_digits(gen, 30, 3)
    folder = ImageFolder(str(tmp_path / "ds"))
    assert folder.classes == [str(c) for c in range(10)] and len(folder) == 30
    for path, label in folder.samples:
        i = int(path.rsplit("/", 1)[1][:-4])           # 000013.png: sample 13
        assert label == labels[i]
        assert np.array_equal(np.array(Image.open(path)), images[i, 0].numpy())
    ours = load_image_folder(str(tmp_path / "ds"), log=lambda line: None)
    assert ours.classes == [str(c) for c in range(10)] and len(ours) == 30
    assert torch.bincount(ours.labels).tolist() == [3] * 10
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["format"] == "folder" and manifest["seed"] == 3
    assert manifest["truncation"] is None and manifest["num"] == 30
    assert manifest["counts"] == {str(c): 3 for c in range(10)}
    assert "--write-dataset" in manifest["command"] and manifest["command"].startswith("python generate.py")
    # the weights' hash: the same weights in another file give the same, others another
    torch.save(gen.state_dict(), tmp_path / "copy.pth")
    other, _ = conditional_generator(tmp_path, seed=1, name="other.pth")
    for path, same in ((tmp_path / "copy.pth", True), (other, False)):
        assert generate("--checkpoint", path, "--write-dataset", tmp_path / path.stem,
                        "--num", "10").returncode == 0
        hashed = json.loads((tmp_path / path.stem / "manifest.json").read_text())
        assert (hashed["generator_sha256"] == manifest["generator_sha256"]) == same


def test_the_same_seed_writes_the_same_files_and_a_split_is_said(tmp_path):
    checkpoint, _ = conditional_generator(tmp_path)
    for name in ("a", "b"):
        assert generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / name,
                        "--num", "25").returncode == 0
    files = lambda name: {p.relative_to(tmp_path / name): p.read_bytes()       # noqa: E731
                          for p in (tmp_path / name).rglob("*.png")}
    assert files("a") == files("b") and len(files("a")) == 25
    said = json.loads((tmp_path / "a" / "manifest.json").read_text())["counts"]
    assert said == {**{str(c): 3 for c in range(5)}, **{str(c): 2 for c in range(5, 10)}}


def test_an_idx_data_set_is_read_as_mnist_with_a_test_split_of_other_digits(tmp_path):
    checkpoint, gen = conditional_generator(tmp_path)
    result = generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / "idx",
                      "--format", "idx", "--num", "60", "--seed", "5")
    assert result.returncode == 0, result.stderr
    imageSet = load_idx_folder(find_idx_files(str(tmp_path / "idx"), "mnist"), "synthetic",
                               list("0123456789"))
    assert imageSet.splits == {"train": 60, "test": 10}
    images, labels = expected_digits(gen, 60, 5)
    assert torch.equal(imageSet.images[:60], images) and torch.equal(imageSet.labels[:60], labels)
    assert sorted(imageSet.labels[60:].tolist()) == list(range(10))
    train = {bytes(x.numpy()) for x in imageSet.images[:60]}
    assert not any(bytes(x.numpy()) in train for x in imageSet.images[60:])   # held out
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["format"] == "idx" and manifest["test_counts"] == {str(c): 1 for c in range(10)}


def test_the_training_script_trains_on_both_formats(tmp_path):
    checkpoint, _ = conditional_generator(tmp_path)
    for fmt in ("folder", "idx"):
        assert generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / fmt,
                        "--format", fmt, "--num", "40").returncode == 0
        extra = ["--dataset", "folder"] if fmt == "folder" else ["--no-download"]
        result = train(tmp_path / f"run-{fmt}", tmp_path / fmt, "-e", "1", "-b", "16",
                       "--conditional", *extra)
        assert result.returncode == 0, result.stderr
        record = json.loads((tmp_path / f"run-{fmt}" / "run.json").read_text())
        assert record["class_names"] == [str(c) for c in range(10)]
        assert record["num_train_images"] == (40 if fmt == "folder" else 40 + 10)


def test_an_exported_folders_recommended_truncation_is_used_and_recorded(tmp_path):
    checkpoint, gen = conditional_generator(tmp_path)
    assert generate("--checkpoint", checkpoint, "--export", tmp_path / "export",
                    "--truncation", "1.5").returncode == 0
    result = generate("--checkpoint", tmp_path / "export", "--write-dataset", tmp_path / "ds",
                      "--num", "10")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["truncation"] == 1.5
    images, _ = expected_digits(gen, 10, 0, truncation=1.5)
    assert np.array_equal(np.array(Image.open(tmp_path / "ds" / "7" / "000007.png")),
                          images[7, 0].numpy())
    assert generate("--checkpoint", tmp_path / "export", "--write-dataset", tmp_path / "free",
                    "--num", "10", "--truncation", "10").returncode == 0
    assert json.loads((tmp_path / "free" / "manifest.json").read_text())["truncation"] is None


def test_refusals_are_one_line_and_write_nothing(tmp_path):
    checkpoint, _ = conditional_generator(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("mine")
    result = generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / "full", "--num", "10")
    assert result.returncode == 1 and "holds files" in one_line(result.stderr)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]
    usage_error(generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / "d",
                         "--num", "100001"), "--num", "at most 100,000 with --write-dataset")
    usage_error(generate("--checkpoint", checkpoint, "--output", tmp_path / "x.png",
                         "--format", "idx"), "--format", "give --write-dataset DIR too")
    usage_error(generate("--checkpoint", checkpoint, "--output", tmp_path / "x.png",
                         "--write-dataset", tmp_path / "d"), "--output", "not with --write-dataset")
    torch.manual_seed(0)
    from reference import article
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    result = generate("--checkpoint", tmp_path / "g.pth", "--write-dataset", tmp_path / "d",
                      "--format", "idx", "--num", "10")
    assert result.returncode == 1 and "unconditional" in one_line(result.stderr)
    assert not (tmp_path / "d").exists()
    options = run_script("generate.py", "--help").stdout
    assert "--num at most 100000 here" in " ".join(options.split())


def test_an_unconditional_generator_writes_one_unlabelled_folder(tmp_path):
    torch.manual_seed(0)
    from reference import article
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    result = generate("--checkpoint", tmp_path / "g.pth", "--write-dataset", tmp_path / "d",
                      "--num", "12")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "d").glob("*.png"))) == 12
    ours = load_image_folder(str(tmp_path / "d"), log=lambda line: None)
    assert ours.classes is None and len(ours) == 12
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["counts"] is None


def test_a_failed_write_leaves_no_folder_and_no_partial_one(tmp_path, monkeypatch):
    import errno
    import os
    checkpoint, _ = conditional_generator(tmp_path)

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "sync", full)
    result = generate("--checkpoint", checkpoint, "--write-dataset", tmp_path / "ds", "--num", "20")
    assert result.returncode == 1 and "No space left" in one_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cond.pth"]


# ------------------------------------------------------------------ --cas

def test_shifts_move_each_image_and_fill_with_the_ground():
    from pyimagesearch.quality.cas import shifted
    x = -torch.ones(50, 1, 28, 28)
    x[:, 0, 10, 10] = 1.0
    moved = shifted(x, torch.Generator().manual_seed(0))
    where = (moved[:, 0] == 1).nonzero()[:, 1:] - 10             # each image's (dy, dx)
    assert len(where) == 50 and where.abs().max() <= 2 and len({tuple(w) for w in where.tolist()}) > 5
    assert ((moved == 1).sum((1, 2, 3)) == 1).all() and moved.min() == -1
    assert torch.equal(shifted(x, torch.Generator(), most=0), x)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two 1-epoch conditional runs on 64 train and 32 test digits: one
    trained on the train split only (--limit 64), one on all 96."""
    root = tmp_path_factory.mktemp("cas")
    data = make_idx_folder(root / "data")
    for name, extra in (("limited", ["--limit", "64"]), ("all", [])):
        result = train(root / name, data, "-e", "1", "-b", "16", "--conditional", *extra)
        assert result.returncode == 0, result.stderr
    return root


def cas(*args):
    return run_script("evaluate.py", "--cas", "--cas-num", "100", "--device", "cpu",
                      "--no-download", *args)


def test_cas_trains_on_generated_digits_and_tests_on_held_out_real_ones(runs):
    result = cas("--checkpoint", runs / "limited" / "checkpoint.pt")
    assert result.returncode == 0, result.stderr
    assert "trained on the first 64 of these images" in result.stderr
    assert "only 64 real training digits, fewer than 100" in result.stderr
    numbers = json.loads(result.stdout.strip().splitlines()[-1])["cas"]
    assert numbers["num_generated"] == 100 and numbers["num_real"] == 64
    assert numbers["num_held_out"] == 32
    assert 0 <= numbers["cas"] <= 1 and 0 <= numbers["real"] <= 1
    assert numbers["ratio"] == pytest.approx(numbers["cas"] / numbers["real"])
    assert sorted(numbers["per_class"]) == [str(c) for c in range(10)]
    lines = [line for line in result.stderr.splitlines() if line.startswith("[RESULT]")]
    assert lines[0].startswith("[RESULT] CAS ") and len(lines) == 11
    again = cas("--checkpoint", runs / "limited" / "checkpoint.pt")
    assert again.stdout == result.stdout                            # the seed fixes it


def test_cas_refuses_digits_the_generator_trained_on(runs):
    for path in (runs / "all" / "checkpoint.pt", runs / "all" / "generator.pth"):  # run.json beside
        result = cas("--checkpoint", path, "--data-dir", runs / "data")
        assert result.returncode == 1
        line = one_line(result.stderr.split("[INFO] real images")[-1].split("\n", 1)[1])
        assert "32 of the 32 held-out digits" in line and "never saw" in line


def test_cas_says_when_it_cannot_tell(runs, tmp_path):
    shutil.copy(runs / "all" / "generator.pth", tmp_path / "alone.pth")
    result = cas("--checkpoint", tmp_path / "alone.pth", "--data-dir", runs / "data")
    assert result.returncode == 0, result.stderr
    assert "[WARNING] cannot tell whether the generator saw the held-out digits" in result.stderr


def test_cas_on_other_digits_says_they_are_not_its_training_set(runs, tmp_path):
    other = make_idx_folder(tmp_path / "other", seed=5)
    result = cas("--checkpoint", runs / "all" / "checkpoint.pt", "--data-dir", other)
    assert result.returncode == 0, result.stderr
    assert "trained on other images than these" in result.stderr


def test_cas_labels_an_unconditional_generators_digits_by_the_evaluator(runs, tmp_path):
    torch.manual_seed(0)
    from reference import article
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    result = cas("--checkpoint", tmp_path / "g.pth", "--data-dir", runs / "data")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "is unconditional" in line]
    assert len(said) == 1 and "labelled by the evaluator" in said[0]
    shares = [float(part.split()[-1][:-1]) for part in said[0].split("their classes: ")[1].split(", ")]
    assert len(shares) == 10 and sum(shares) == pytest.approx(100, abs=0.1)
    numbers = json.loads(result.stdout.strip().splitlines()[-1])["cas"]
    assert numbers["labels"] == "the evaluator" and numbers["num_generated"] == 100
    usage_error(cas("--checkpoint", tmp_path / "g.pth", "--nearest", tmp_path / "n.png"),
                "--nearest", "not with --cas")
    usage_error(cas("--checkpoint", tmp_path / "g.pth", "--cas-num", "100001"), "--cas-num",
                "at most 100,000")
    usage_error(run_script("evaluate.py", "--checkpoint", tmp_path / "g.pth", "--cas-with-real"),
                "--cas-with-real", "give --cas too")


def test_the_evaluators_labels_are_its_reading_of_each_digit(tiny_data):
    from pyimagesearch.quality.cas import labelled_by_evaluator
    from pyimagesearch.quality.evaluator import accuracy, load_or_train, split_real
    split = split_real(load_idx_folder(find_idx_files(str(tiny_data), "mnist"), "tiny"), 0)
    said = []
    labels = labelled_by_evaluator(split.heldOutImages, split, 0, "cpu",
                                   [str(c) for c in range(10)], log=said.append)
    model, _, _ = load_or_train(split, 0, "cpu", log=said.append)
    right = (labels == split.heldOutLabels).double().mean().item()
    assert right == pytest.approx(accuracy(model, split.heldOutImages, split.heldOutLabels, "cpu"))
    assert labels.shape == (len(split.heldOutImages),) and labels.max() < 10


def test_cas_with_real_adds_the_real_and_generated_digits_together(runs):
    plain = cas("--checkpoint", runs / "limited" / "checkpoint.pt")
    result = cas("--checkpoint", runs / "limited" / "checkpoint.pt", "--cas-with-real")
    assert result.returncode == 0, result.stderr
    a = json.loads(plain.stdout.strip().splitlines()[-1])["cas"]
    b = json.loads(result.stdout.strip().splitlines()[-1])["cas"]
    assert a["real_and_generated"] is None and 0 <= b["real_and_generated"] <= 1
    assert (a["cas"], a["real"]) == (b["cas"], b["real"])     # the other two numbers unchanged
    assert all("real_and_generated" in n for n in b["per_class"].values())
    assert "on the 64 real digits and the 100 generated ones together" in result.stderr
    assert "then on both together (164)" in result.stderr


# ------------------------------------------------------------------ the demo

def test_the_demo_zips_a_labelled_data_set_with_its_manifest(tmp_path):
    from pyimagesearch.sharing.playground import Playground
    checkpoint, gen = conditional_generator(tmp_path)
    play = Playground(str(checkpoint), log=lambda line: None)
    (tmp_path / "scratch").mkdir()
    path = play.data_set(20, 4, 3.0, str(tmp_path / "scratch"))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        archive.extractall(tmp_path / "unzipped")
    assert len([n for n in names if n.endswith(".png")]) == 20
    assert manifest["counts"] == {str(c): 2 for c in range(10)} and manifest["seed"] == 4
    assert manifest["generator_sha256"] and manifest["format"] == "folder"
    images, _ = expected_digits(gen, 20, 4)
    assert np.array_equal(np.array(Image.open(tmp_path / "unzipped" / "3" / "000013.png")),
                          images[13, 0].numpy())
    second = play.data_set(10, 0, 1.5, str(tmp_path / "scratch"))
    assert json.loads(zipfile.ZipFile(second).read("manifest.json"))["truncation"] == 1.5
    assert not (tmp_path / "scratch").joinpath(*str(path).split("scratch/")[1].split("/")).exists()
    for bad, said in ((10_001, "from 1 to 10,000"), (0, "from 1 to 10,000"), ("x", "integer")):
        with pytest.raises(UserError, match=said):
            play.data_set(bad, 0, 3.0, str(tmp_path / "scratch"))


def test_the_demo_offers_no_data_set_for_an_unconditional_generator(tmp_path):
    from pyimagesearch.sharing.playground import Playground
    from reference import article
    torch.manual_seed(0)
    torch.save(article.Generator(inputDim=100, outputChannels=1).state_dict(), tmp_path / "g.pth")
    play = Playground(str(tmp_path / "g.pth"), log=lambda line: None)
    with pytest.raises(UserError, match="needs a conditional generator"):
        play.data_set(10, 0, 3.0, str(tmp_path))


def test_the_page_has_the_download_button_for_a_conditional_generator(tmp_path):
    pytest.importorskip("gradio")
    from pyimagesearch.sharing.page import build_page
    from pyimagesearch.sharing.playground import Playground
    checkpoint, _ = conditional_generator(tmp_path)
    page = build_page(Playground(str(checkpoint), log=lambda line: None))
    ids = {getattr(block, "elem_id", None) for block in page.blocks.values()}
    assert {"download-dataset", "dataset", "dataset-num"} <= ids
    assert "data_set" in {fn.api_name for fn in page.fns.values()}


def test_class_folders_sort_in_the_labels_order_and_name_no_path():
    from pyimagesearch.sampling.dataset import folder_names
    assert folder_names(list("0123456789")) == list("0123456789")
    fashion = folder_names(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                            "Shirt", "Sneaker", "Bag", "Ankle boot"])
    assert fashion[0] == "0-T-shirt_top" and fashion[9] == "9-Ankle boot"
    twelve = folder_names([str(c) for c in range(12)])
    assert twelve[:3] == ["00-0", "01-1", "02-2"] and sorted(twelve) == twelve
    assert folder_names([".hidden", "a"]) == ["0-_hidden", "1-a"]


@pytest.mark.slow
def test_the_download_through_a_real_server(tmp_path):
    """demo.py serving a conditional generator: the page's API gives the zip."""
    pytest.importorskip("gradio_client")
    from gradio_client import Client
    from test_demo import serving
    (tmp_path / "run").mkdir()
    conditional_generator(tmp_path / "run", name="checkpoint.pt")
    make_idx_folder(tmp_path / "data")      # serving names it: a named folder must be there
    with serving(tmp_path) as (url, proc):
        path = Client(url, verbose=False).predict(30, 2, 3.0, api_name="/data_set")
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            assert len([n for n in archive.namelist() if n.endswith(".png")]) == 30
        assert manifest["counts"] == {str(c): 3 for c in range(10)} and manifest["seed"] == 2
        with pytest.raises(Exception, match="from 1 to 10,000"):
            Client(url, verbose=False).predict(10_001, 2, 3.0, api_name="/data_set")
    assert "Traceback" not in proc.output, proc.output


def test_cas_refuses_real_digits_whose_classes_are_not_the_generators(runs, tmp_path):
    # ten class folders named in words sort as eight, five, four, ...: the
    # generator's class 0 would be scored against the folder's "eight"
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    data = load_idx_folder(find_idx_files(str(runs / "data"), "mnist"), "tiny")
    for i, (image, label) in enumerate(zip(data.images, data.labels)):
        folder = tmp_path / "words" / words[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy()).save(folder / f"{i}.png")
    for extra in (["--cas"], []):
        result = run_script("evaluate.py", "--checkpoint", runs / "limited" / "checkpoint.pt",
                            "--dataset", "folder", "--data-dir", tmp_path / "words",
                            "--device", "cpu", "--no-download", "--num", "256", *extra)
        assert result.returncode == 1 and not result.stdout.strip(), result.stdout
        line = result.stderr.strip().splitlines()[-1]
        assert "Traceback" not in result.stderr
        assert line.startswith("[ERROR] the generator's classes are 0, 1, 2") and \
            "'s are eight, five, four" in line, line
