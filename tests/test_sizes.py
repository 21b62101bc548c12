"""--image-size and --channels: the article's DCGAN in colour and at 32 and
64 pixels, its own network the exact default."""

import json
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import load, make_idx_folder, one_line, run_script, snapshot, train, usage_error
from pyimagesearch.data import DataError, load_dataset
from pyimagesearch.data.folder import to_image
from pyimagesearch.dcgan import Discriminator, Generator
from pyimagesearch.models import discriminator_geometry, generator_geometry, model_classes
from pyimagesearch.quality.evaluator import DigitClassifier

pytestmark = pytest.mark.usefixtures("private_cache")

RED, BLUE = (220, 30, 30), (30, 40, 220)


def colour_folder(root, count=24, grey=False):
    """Two classes on a dark ground: 'red' squares (PNG) and 'blue' squares
    (JPEG, not square), placed at random; grey=True draws them grey."""
    rng = np.random.default_rng(0)
    for name, colour, suffix, shape in (("red", RED, "png", (40, 40)),
                                        ("blue", BLUE, "jpg", (36, 48))):
        os.makedirs(root / name, exist_ok=True)
        for i in range(count):
            image = np.full((*shape, 3), 12, dtype=np.uint8)
            y, x = rng.integers(4, 16, 2)
            image[y:y + 16, x:x + 16] = colour
            picture = Image.fromarray(image)
            (picture.convert("L") if grey else picture).save(root / name / f"{i}.{suffix}")
    return root


# ------------------------------------------------------------------ models

# the layer pattern at each size, as docs/sizes.md states it: the (channels,
# side) of every block's output, noise (100, 1) first
GENERATOR_SHAPES = {32: [(128, 4), (64, 8), (32, 16), ("C", 32)],
                    64: [(256, 4), (128, 8), (64, 16), (32, 32), ("C", 64)]}
DISCRIMINATOR_SHAPES = {32: [(32, 16), (64, 8)], 64: [(32, 32), (64, 16), (128, 8)]}


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_generator_follows_the_articles_pattern_at_each_size(size, channels):
    Gen, _ = model_classes(size)
    gen = Gen(inputDim=100, outputChannels=channels).eval()
    names = [name for name, _ in gen.named_children()]
    blocks = len(GENERATOR_SHAPES[size]) - 1
    assert names == [f"{kind}{i}" for i in range(1, blocks + 1)
                     for kind in ("ct", "relu", "batchNorm")] + [f"ct{blocks + 1}", "tanh"]
    seen = []
    for i in range(1, blocks + 2):
        getattr(gen, f"ct{i}").register_forward_hook(lambda m, x, y: seen.append(tuple(y.shape[1:])))
    out = gen(torch.randn(2, 100, 1, 1))
    expected = [(channels if c == "C" else c, s, s) for c, s in GENERATOR_SHAPES[size]]
    assert seen == expected and out.shape == (2, channels, size, size)
    assert out.abs().max() <= 1                      # the article's Tanh
    assert all(m.bias is None for m in gen.modules() if isinstance(m, torch.nn.ConvTranspose2d))


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_discriminator_follows_the_articles_pattern_at_each_size(size, channels):
    _, Disc = model_classes(size)
    disc = Disc(depth=channels)
    blocks = len(DISCRIMINATOR_SHAPES[size])
    assert [name for name, _ in disc.named_children()] == \
        [f"{kind}{i}" for i in range(1, blocks + 1) for kind in ("conv", "leakyRelu")] + \
        ["fc1", f"leakyRelu{blocks + 1}", "fc2", "sigmoid"]
    seen = []
    for i in range(1, blocks + 1):
        getattr(disc, f"conv{i}").register_forward_hook(lambda m, x, y: seen.append(tuple(y.shape[1:])))
    out = disc(torch.randn(3, channels, size, size))
    assert seen == [(c, s, s) for c, s in DISCRIMINATOR_SHAPES[size]]
    last, side = DISCRIMINATOR_SHAPES[size][-1]
    assert disc.fc1.in_features == last * side * side and disc.fc1.out_features == 512
    assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()
    assert disc.leakyRelu1.negative_slope == 0.2


def test_at_28_the_models_are_the_articles_own_classes():
    assert model_classes(28) == (Generator, Discriminator)
    with pytest.raises(ValueError, match="28, 32, 64"):
        model_classes(48)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_size_and_channels_are_read_back_from_the_weights(size, channels):
    Gen, Disc = model_classes(size)
    assert generator_geometry(Gen(inputDim=64, outputChannels=channels).state_dict()) == \
        (64, channels, size)
    assert discriminator_geometry(Disc(depth=channels).state_dict()) == (channels, size)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_the_evaluator_takes_images_of_each_size(size):
    model = DigitClassifier(numClasses=4, channels=3, size=size)
    assert model(torch.randn(2, 3, size, size)).shape == (2, 4)
    assert model.features(torch.randn(2, 3, size, size)).shape == (2, 128)


# ------------------------------------------------------------------ data

def test_a_colour_image_keeps_its_colour_and_is_resized_by_lanczos():
    array = np.zeros((20, 30, 3), dtype=np.uint8)
    array[:, :] = (200, 100, 50)
    image, inverted, grey = to_image(Image.fromarray(array), size=32, channels=3)
    assert image.shape == (3, 32, 32) and not inverted and not grey
    assert tuple(image[:, 16, 16]) == (200, 100, 50)
    # the padding (rows above and below the 20 x 30 picture) has the ground's colour too
    assert tuple(image[:, 0, 0]) == (200, 100, 50)
    small = Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).resize((32, 32), Image.LANCZOS)
    assert np.array_equal(to_image(Image.fromarray(np.full((64, 64, 3), 90, np.uint8)), size=32,
                                   channels=3)[0], np.asarray(small).transpose(2, 0, 1))


def test_colour_images_are_not_inverted_by_auto_but_by_yes():
    white = np.full((28, 28, 3), 250, dtype=np.uint8)
    white[10:18, 10:18] = RED
    kept, inverted, _ = to_image(Image.fromarray(white), "auto", 28, 3)
    assert not inverted and tuple(kept[:, 14, 14]) == RED
    flipped, inverted, _ = to_image(Image.fromarray(white), "yes", 28, 3)
    assert inverted and tuple(flipped[:, 14, 14]) == tuple(255 - c for c in RED)


def test_palette_alpha_16_bit_and_cmyk_sources_become_rgb():
    rgb = np.zeros((28, 28, 3), dtype=np.uint8)
    rgb[8:20, 8:20] = RED
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert tuple(to_image(palette, size=28, channels=3)[0][:, 14, 14]) == RED
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[8:20, 8:20] = (*RED, 255)                                # opaque red, transparent around
    image = to_image(Image.fromarray(rgba, "RGBA"), size=28, channels=3)[0]
    assert tuple(image[:, 14, 14]) == RED and tuple(image[:, 0, 0]) == (255, 255, 255)
    deep = Image.fromarray(np.full((28, 28), 257 * 100, dtype=np.uint16))
    image, _, grey = to_image(deep, size=28, channels=3)
    assert grey and (image == 100).all()
    cmyk = Image.new("CMYK", (28, 28), (0, 255, 255, 0))         # no cyan, full magenta, yellow
    assert tuple(to_image(cmyk, size=28, channels=3)[0][:, 14, 14]) == (255, 0, 0)


def test_a_grey_folder_with_channels_3_trains_as_colour_and_says_so(tmp_path):
    folder = colour_folder(tmp_path / "grey", count=4, grey=True)
    said = []
    imageSet = load_dataset("folder", str(folder), size=32, channels=3, log=said.append)
    assert imageSet.images.shape == (8, 3, 32, 32)
    assert torch.equal(imageSet.images[:, 0], imageSet.images[:, 2])
    assert [line for line in said if "8 of 8 images are grey" in line]


def test_idx_digits_are_resized_and_refuse_colour(tmp_path):
    data = make_idx_folder(tmp_path / "data", train=8, test=4)
    digits = load_dataset("mnist", str(data), allowDownload=False)
    big = load_dataset("mnist", str(data), allowDownload=False, size=64)
    assert big.images.shape == (12, 1, 64, 64) and big.labels.tolist() == digits.labels.tolist()
    expected = Image.fromarray(digits.images[5, 0].numpy()).resize((64, 64), Image.LANCZOS)
    assert np.array_equal(big.images[5, 0].numpy(), np.asarray(expected))
    with pytest.raises(DataError, match="MNIST is grey"):
        load_dataset("mnist", str(data), allowDownload=False, channels=3)


def cifar_batch(rng, count):
    data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    return {"batch_label": "a batch", "data": data, "labels": rng.integers(0, 10, count).tolist(),
            "filenames": [f"{i}.png" for i in range(count)]}


def cifar_folder(root, count=6):
    """CIFAR-10's python layout with `count` random images a batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {f"data_batch_{i}": cifar_batch(rng, count) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(rng, count)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    return root, batches, names


def test_cifar10_is_read_from_torchvisions_layout(tmp_path):
    root, batches, names = cifar_folder(tmp_path / "c")
    imageSet = load_dataset("cifar10", str(root), allowDownload=False, size=32, channels=3)
    assert imageSet.images.shape == (36, 3, 32, 32) and imageSet.splits == {"train": 30, "test": 6}
    first = batches["data_batch_1"]
    assert np.array_equal(imageSet.images[0].numpy().reshape(-1), first["data"][0])
    assert imageSet.labels[:6].tolist() == first["labels"] and imageSet.classes == names
    test = batches["test_batch"]
    assert np.array_equal(imageSet.images[30].numpy().reshape(-1), test["data"][0])
    grey = load_dataset("cifar10", str(root), allowDownload=False)        # the default, 1 x 28 x 28
    picture = Image.fromarray(first["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    expected = picture.convert("L").resize((28, 28), Image.LANCZOS)
    assert grey.images.shape == (36, 1, 28, 28)
    assert np.array_equal(grey.images[0, 0].numpy(), np.asarray(expected))


@pytest.mark.slow
def test_each_data_set_says_its_own_name_where_the_article_says_mnist(tmp_path):
    root, _, _ = cifar_folder(tmp_path / "c")
    result = train(tmp_path / "o", root, "--dataset", "cifar10", "-e", "1", "-b", "32",
                   "--image-size", "32", "--channels", "3")
    assert result.returncode == 0, result.stderr
    assert "[INFO] loading CIFAR-10 dataset..." in result.stdout
    assert "MNIST" not in result.stdout


class Planted:
    def __reduce__(self):
        return (os.system, ("touch planted",))


def test_a_cifar10_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    root, _, _ = cifar_folder(tmp_path / "c")
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(Planted()))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="test_batch: not a CIFAR-10 batch file .*refusing"):
        load_dataset("cifar10", str(root), allowDownload=False)
    assert not (tmp_path / "planted").exists()


def test_cifar10_without_files_or_network_is_one_line(tmp_path):
    result = train(tmp_path / "out", tmp_path / "none", "--dataset", "cifar10", "--no-download")
    assert result.returncode == 1
    assert "no CIFAR-10 batch files in" in one_line(result.stderr)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the script

def montage_pixels(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.mark.parametrize("size, channels", [(28, 3), (32, 3), (64, 3), (32, 1)])
def test_one_epoch_end_to_end_at_each_size(tmp_path, size, channels):
    data = colour_folder(tmp_path / "images")
    out = tmp_path / "out"
    result = train(out, data, "--dataset", "folder", "--image-size", size, "--channels",
                   channels, "-e", "1", "-b", "16")
    assert result.returncode == 0, result.stderr
    montage = montage_pixels(out / "epoch_0001.png")
    assert montage.shape == (16 * size, 16 * size, 3)
    spread = np.abs(montage[:, :, 0] - montage[:, :, 2]).max()
    assert (spread > 0) == (channels == 3)          # colour only in a colour run's montage
    record = json.loads((out / "run.json").read_text())
    assert (record["image_size"], record["channels"]) == (size, channels)
    saved = load(out / "checkpoint.pt")
    assert (saved["args"]["image_size"], saved["args"]["channels"]) == (size, channels)
    last = [k for k in saved["generator"] if k.startswith("ct")][-1]
    assert saved["generator"][last].shape[1] == channels
    assert Image.open(out / "output.gif").size == (16 * size, 16 * size)


def test_colour_reaches_the_montage_in_its_own_order(tmp_path, monkeypatch):
    """A generator that draws pure red gives a red montage (cv2 writes BGR)."""
    import dcgan_mnist

    class Red(torch.nn.Module):
        def forward(self, z):
            image = -torch.ones(len(z), 3, 32, 32)
            image[:, 0] = 1.0                                # R = 255, G = B = 0
            return image

    path = dcgan_mnist.visualize(Red(), torch.randn(256, 100, 1, 1), 0,
                                 {"output": str(tmp_path), "image_size": 32})
    pixels = montage_pixels(path)
    assert pixels.shape == (512, 512, 3)
    assert (pixels[:, :, 0] == 255).all() and (pixels[:, :, 1:] == 0).all()


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    """A 2-epoch 64x64 colour run with its checkpoint, for resume and generate."""
    root = tmp_path_factory.mktemp("colour")
    data = colour_folder(root / "images")
    os.environ["DCGAN_CACHE"] = str(root / "cache")
    try:
        result = train(root / "out", data, "--dataset", "folder", "--image-size", "64",
                       "--channels", "3", "-e", "2", "-b", "16")
    finally:
        del os.environ["DCGAN_CACHE"]
    assert result.returncode == 0, result.stderr
    return root / "out", data


@pytest.mark.parametrize("option, value", [("--image-size", "32"), ("--channels", "1")])
def test_a_resumed_run_refuses_another_size_or_channel_count(colour_run, option, value):
    out, data = colour_run
    before = snapshot(out)
    result = train(out, data, "--resume", "-e", "3", option, value)
    usage_error(result, option, "differs from the checkpoint's")
    assert snapshot(out) == before


def test_generate_draws_the_checkpoints_size_without_being_told(colour_run, tmp_path):
    out, data = colour_run
    result = run_script("generate.py", "--checkpoint", out / "checkpoint.pt", "--output",
                        tmp_path / "s.png", "--num", "4", "--individual", tmp_path / "one",
                        "--interpolate", tmp_path / "walk.gif", "--keyframes", "2", "--steps", "2")
    assert result.returncode == 0, result.stderr
    assert "colour 64x64" in result.stdout
    assert montage_pixels(tmp_path / "s.png").shape == (128, 128, 3)
    single = np.asarray(Image.open(tmp_path / "one" / "digit_0000.png"))
    assert single.shape == (64, 64, 3)
    walk = Image.open(tmp_path / "walk.gif")
    assert walk.size == (128, 128) and walk.n_frames == 4
    result = run_script("generate.py", "--checkpoint", out / "generator.pth", "--output",
                        tmp_path / "g.png", "--num", "1")
    assert result.returncode == 0 and montage_pixels(tmp_path / "g.png").shape == (64, 64, 3)


def test_evaluate_scores_a_colour_checkpoint_on_its_own_images(colour_run, private_cache):
    out, _ = colour_run
    result = run_script("evaluate.py", "--checkpoint", out / "checkpoint.pt", "--num", "256")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["class_names"] == ["blue", "red"] and scores["fld"] > 0


def test_a_colour_checkpoint_on_grey_digits_says_the_checkpoint_is_colour(tmp_path):
    gen = model_classes(32)[0](inputDim=100, outputChannels=3)
    torch.save(gen.state_dict(), tmp_path / "colour.pth")
    data = make_idx_folder(tmp_path / "data", train=8, test=4)
    result = run_script("evaluate.py", "--checkpoint", tmp_path / "colour.pth", "--dataset",
                        "mnist", "--data-dir", data, "--no-download", "--num", "256")
    said = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the generator draws colour images and MNIST is grey" in said
    assert "--channels" not in said                   # the user gave none


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py"])
@pytest.mark.parametrize("option, value", [("--image-size", "28"), ("--channels", "1")])
def test_a_conflicting_size_for_a_checkpoint_is_one_line(colour_run, tmp_path, script, option,
                                                         value):
    out, _ = colour_run
    extra = ["--output", tmp_path / "x.png"] if script == "generate.py" else []
    result = run_script(script, "--checkpoint", out / "checkpoint.pt", option, value, *extra)
    usage_error(result, option, "holds a generator of 3-channel 64x64 images")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args, option, said", [
    (["--image-size", "48"], "--image-size", "invalid choice: 48 (choose from 28, 32, 64)"),
    (["--channels", "2"], "--channels", "invalid choice: 2 (choose from 1, 3)"),
    (["--channels", "3"], "--channels", "mnist is grey"),
    (["--channels", "3", "--dataset", "fashion-mnist"], "--channels", "fashion-mnist is grey"),
])
def test_bad_sizes_and_channels_are_one_line_and_write_nothing(tmp_path, args, option, said):
    result = train(tmp_path / "out", tmp_path / "data", *args)
    usage_error(result, option, said)
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()
