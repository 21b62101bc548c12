"""--conditional: the article's networks told the class of each image. The
label plumbing alone (shapes, one-hot, every class drawn, the montage's
rows), both networks using the label, and tiny runs end to end (an exact
resume, colour at 32, the refusals)."""

import json
import logging
from types import SimpleNamespace

import pytest
import torch

from conftest import load, make_idx_folder, one_line, run_script, snapshot, train, usage_error
from test_sizes import colour_folder
from pyimagesearch.checkpoint import build_discriminator, build_generator
from pyimagesearch.data.loader import DeviceLoader, balanced_order
from pyimagesearch.dcgan import Discriminator, Generator
from pyimagesearch.models import class_count, model_classes, noise_dim, told
from pyimagesearch.training.images import montage_classes
from pyimagesearch.training.run import TrainingRun
from pyimagesearch.training.streams import RandomStreams


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 1)])
def test_the_articles_state_dict_keys_are_a_subset_and_the_shapes_fit(size, channels):
    G, D = model_classes(size, 10)
    gen, disc = G(inputDim=100, outputChannels=channels), D(depth=channels)
    plainG, plainD = model_classes(size)
    assert set(plainG(inputDim=110, outputChannels=channels).state_dict()) < set(gen.state_dict())
    assert set(plainD(depth=channels).state_dict()) < set(disc.state_dict())
    assert set(disc.state_dict()) - set(plainD(depth=channels).state_dict()) == {"embed.weight"}
    assert gen.ct1.in_channels == 110 and noise_dim(gen) == 100 and class_count(gen) == 10
    z, labels = torch.randn(4, 100, 1, 1), torch.tensor([0, 3, 7, 9])
    images = gen(z, labels)
    assert images.shape == (4, channels, size, size)
    assert disc(images, labels).shape == (4, 1)
    if size == 28:                                  # the article's own classes, told more
        assert isinstance(gen, Generator) and isinstance(disc, Discriminator)


def test_the_generators_input_is_the_noise_then_a_one_hot_code():
    gen = model_classes(28, 10)[0](inputDim=100, outputChannels=1).eval()
    plain = Generator(inputDim=110, outputChannels=1).eval()
    plain.load_state_dict({k: v for k, v in gen.state_dict().items() if k != "numClasses"})
    z, labels = torch.randn(3, 100, 1, 1), torch.tensor([2, 5, 9])
    code = torch.zeros(3, 10, 1, 1)
    code[torch.arange(3), labels] = 1
    assert torch.equal(gen(z, labels), plain(torch.cat((z, code), 1)))
    assert torch.equal(gen(z, code.view(3, 10)), gen(z, labels))    # a code works as a class


def test_a_conditional_generator_compiles_without_a_graph_break():
    # --conditional --compile printed torch._dynamo's graph-break dump
    from torch._dynamo.utils import counters    # torch._dynamo: only this test needs it
    gen = model_classes(28, 10)[0](inputDim=100, outputChannels=1).eval()
    z, labels = torch.randn(3, 100, 1, 1), torch.tensor([2, 5, 9])
    said = []
    printer = logging.Handler(logging.WARNING)
    printer.emit = lambda record: said.append(record.getMessage())
    logging.getLogger("torch._dynamo").addHandler(printer)
    counters.clear()
    try:
        assert torch.equal(torch.compile(gen, backend="eager")(z, labels), gen(z, labels))
    finally:
        logging.getLogger("torch._dynamo").removeHandler(printer)
    assert not counters["graph_break"] and not said, said
    assert list(gen.state_dict())[0] == "numClasses"                # the keys as before
    other = model_classes(28, 11)[0](inputDim=99, outputChannels=1)
    gen.load_state_dict(other.state_dict())                          # 99 + 11: the same shapes
    assert gen.classes == class_count(gen) == 11


def test_without_classes_told_is_the_articles_call():
    gen = Generator(inputDim=100, outputChannels=1).eval()
    z = torch.randn(2, 100, 1, 1)
    assert torch.equal(told(gen, z, None), gen(z))


def test_the_fakes_classes_cover_every_class_over_an_epoch():
    streams = RandomStreams(0, 0, torch.device("cpu"), classes=True)
    drawn = []
    for _ in range(70_000 // 128 + 1):                  # an epoch of MNIST
        real = torch.zeros(128, dtype=torch.long)
        fake, seen = streams.fake_classes(real, 10)
        assert fake.shape == (128,) and torch.equal(seen, torch.cat((real, fake)))
        drawn.append(fake)
    counts = torch.bincount(torch.cat(drawn), minlength=10)
    assert len(counts) == 10 and counts.min() > 0          # none missing, none beyond 9
    assert (counts.double() / counts.sum() - 0.1).abs().max() < 0.01   # uniform
    assert TrainingRun.classes(SimpleNamespace(numClasses=None), real) == (None, None)


def test_balanced_batches_hold_each_class_in_its_share():
    stream = torch.Generator().manual_seed(3)
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate((900, 1100, 500, 1500))])
    labels = labels[torch.randperm(len(labels), generator=stream)]
    order = balanced_order(labels, stream)
    assert torch.equal(order.sort().values, torch.arange(len(labels)))   # every image once
    share = torch.bincount(labels).double() / len(labels)
    for batch in labels[order].split(128)[:-1]:
        counts = torch.bincount(batch, minlength=4).double()
        assert ((counts - 128 * share).abs() <= 1).all(), counts       # rounded up or down
    again = balanced_order(labels, torch.Generator().manual_seed(3))
    assert not torch.equal(order, again)            # drawn from the stream, not fixed
    shuffled = labels[torch.randperm(len(labels), generator=stream)].split(128)[:-1]
    assert max((torch.bincount(b, minlength=4).double() - 128 * share).abs().max()
               for b in shuffled) > 1                # (what a plain shuffle gives)


def test_balanced_batches_are_balanced_in_every_process_under_torchrun():
    # each process's share of a balanced batch, not only the batch of all of them,
    # holds each class in its share (a stride of 2 of 0,1,0,1,... is all one class)
    labels = torch.arange(2).repeat(64)
    images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8)
    data = SimpleNamespace(labels=labels, images=images)
    sizes = []
    for rank in range(2):
        loader = DeviceLoader(data, 16, "cpu", transform=lambda x: x.float(),
                              generator=torch.Generator().manual_seed(1), shard=(rank, 2),
                              balanced=True)
        for _, classes in loader:
            counts = torch.bincount(classes, minlength=2)
            assert (counts - len(classes) / 2).abs().max() <= 1, (rank, counts)
            sizes.append(len(classes))
    assert sorted(sizes) == [16] * 8


def test_balanced_batches_tell_the_fakes_the_real_classes():
    streams = RandomStreams(0, 0, torch.device("cpu"), classes=True)
    real = torch.tensor([3, 1, 4, 1, 5])
    state = streams.classes.get_state()
    fake, seen = streams.fake_classes(real, 10, asReal=True)
    assert torch.equal(fake, real) and torch.equal(seen, torch.cat((real, real)))
    assert torch.equal(streams.classes.get_state(), state)


def test_each_row_of_the_montage_is_one_class_in_order():
    rows = montage_classes(256, 10, "cpu").view(16, 16)
    assert all((row == row[0]).all() for row in rows)
    assert rows[:, 0].tolist() == list(range(10)) + list(range(6))
    assert montage_classes(256, None, "cpu") is None
    assert montage_classes(256, 20, "cpu").view(16, 16)[:, 0].tolist() == list(range(16))


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("conditional")
    data = make_idx_folder(root / "data")
    result = train(root / "run", data, "-e", "2", "-b", "16", "--conditional", "--eval-every", "2",
                   "--eval-num", "256")
    assert result.returncode == 0, result.stderr
    return root / "run", data, result


@pytest.mark.slow
def test_a_trained_pair_uses_the_label(conditional_run):
    run, _, _ = conditional_run
    gen, _ = build_generator(run / "checkpoint.pt")
    disc = build_discriminator(run / "checkpoint.pt")
    z = torch.randn(1, 100, 1, 1).repeat(2, 1, 1, 1)
    with torch.no_grad():
        two = gen(z, torch.tensor([1, 7]))
        assert not torch.allclose(two[0], two[1])       # same noise, two classes: two images
        image = two[:1].repeat(2, 1, 1, 1)
        verdicts = disc(image, torch.tensor([1, 7]))
        assert not torch.allclose(verdicts[0], verdicts[1])   # same image, two verdicts


@pytest.mark.slow
def test_a_conditional_run_records_and_scores_its_classes(conditional_run):
    run, _, result = conditional_run
    assert "as asked" in result.stdout
    assert load(run / "checkpoint.pt")["args"]["conditional"] is True
    assert int(load(run / "generator.pth")["numClasses"]) == 10
    scores = json.loads((run / "metrics.json").read_text())["epochs"][-1]["conditioning"]
    assert 0 <= scores["accuracy"] <= 1 and scores["worst_class"] in "0123456789"
    assert set(scores["per_class"]) == set("0123456789")


@pytest.mark.slow
@pytest.mark.parametrize("balanced", [[], ["--balanced-batches"]])
def test_a_resumed_conditional_run_is_the_straight_one_exactly(tmp_path, balanced):
    data = make_idx_folder(tmp_path / "data")
    common = ["-b", "16", "--conditional", "--seed", "5", *balanced]
    assert train(tmp_path / "straight", data, "-e", "2", *common).returncode == 0
    assert train(tmp_path / "cut", data, "-e", "2", "--stop-after", "1", *common).returncode == 0
    resumed = train(tmp_path / "cut", data, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = load(tmp_path / "straight" / "checkpoint.pt"), load(tmp_path / "cut" / "checkpoint.pt")
    for key in ("generator", "discriminator"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    assert a["rng"][0]["classes"].equal(b["rng"][0]["classes"])
    if balanced:                  # the option reached the loop: not the plain run's weights
        assert train(tmp_path / "plain", data, "-e", "2", *common[:-1]).returncode == 0
        plain = load(tmp_path / "plain" / "checkpoint.pt")["generator"]
        assert not all(torch.equal(v, plain[k]) for k, v in a["generator"].items())


@pytest.mark.slow
def test_a_resume_keeps_conditional_and_refuses_a_change(tmp_path):
    data = make_idx_folder(tmp_path / "data")
    assert train(tmp_path / "o", data, "-e", "2", "--stop-after", "1", "-b", "32").returncode == 0
    result = train(tmp_path / "o", data, "--resume", "--conditional")
    usage_error(result, "--conditional", "a resumed run keeps --conditional")
    result = train(tmp_path / "o", data, "--resume", "--balanced-batches")
    usage_error(result, "--balanced-batches", "a resumed run keeps --balanced-batches")


def test_balanced_batches_need_conditional(tmp_path):
    result = train(tmp_path / "o", make_idx_folder(tmp_path / "data"), "--balanced-batches")
    usage_error(result, "--balanced-batches", "give --conditional too")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_colour_at_32_from_class_folders(tmp_path):
    folder = colour_folder(tmp_path / "pictures", count=16)
    result = train(tmp_path / "o", folder, "--dataset", "folder", "--image-size", "32",
                   "--channels", "3", "-e", "1", "-b", "8", "--conditional", "--ema", "0.9")
    assert result.returncode == 0, result.stderr
    gen, _ = build_generator(tmp_path / "o" / "checkpoint.pt")
    assert class_count(gen) == 2 and gen.imageSize == 32 and gen.channels == 3


def test_unlabelled_data_is_refused_before_anything_is_written(tmp_path):
    folder = colour_folder(tmp_path / "pictures", count=4)
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in (folder / "red").iterdir():
        p.rename(flat / p.name)
    result = train(tmp_path / "o", flat, "--dataset", "folder", "-e", "1", "--conditional")
    said = one_line(result.stderr)
    assert result.returncode == 1 and "--conditional needs images with classes" in said
    assert not (tmp_path / "o").exists()
    usage_error(train(tmp_path / "p", flat, "--dataset", "fake", "--conditional"),
                "--conditional", "random noise")
    assert snapshot(flat)                              # the user's pictures untouched


def test_a_label_out_of_range_is_one_line_before_anything_is_written(tmp_path):
    data = make_idx_folder(tmp_path / "data", gz=False)
    labels = data / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels.read_bytes())
    raw[8 + 3] = 200                                    # the test split's fourth label
    labels.write_bytes(bytes(raw))
    result = train(tmp_path / "o", data, "-e", "1", "--conditional")
    said = one_line(result.stderr)
    assert result.returncode == 1, result.stderr
    assert "t10k-labels-idx1-ubyte: label 200 at index 3" in said and "0 to 9" in said
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_conditional_folder_run_records_its_class_names_without_eval_every(tmp_path):
    folder = colour_folder(tmp_path / "pictures", count=4)
    result = train(tmp_path / "o", folder, "--dataset", "folder", "-e", "1", "-b", "8",
                   "--conditional")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o" / "run.json").read_text())["class_names"] == ["blue", "red"]
    asked = run_script("generate.py", "--checkpoint", tmp_path / "o" / "checkpoint.pt",
                       "--digit", "big", "--output", tmp_path / "x.png")
    assert asked.returncode == 1
    assert one_line(asked.stderr).endswith("the generator draws 2 classes: blue, red")
    drawn = run_script("generate.py", "--checkpoint", tmp_path / "o" / "checkpoint.pt",
                       "--digit", "red", "--output", tmp_path / "x.png")
    assert drawn.returncode == 0, drawn.stderr


def test_a_run_on_some_of_the_classes_says_which_it_never_sees(tmp_path):
    data = make_idx_folder(tmp_path / "data")            # labels 0, 1, ..., 9, 0, ...
    some = train(tmp_path / "some", data, "-e", "1", "-b", "4", "--conditional", "--limit", "4")
    assert some.returncode == 0, some.stderr
    warned = [line for line in some.stderr.splitlines() if "classes it never sees" in line]
    assert len(warned) == 1
    assert "the 4 training images hold 4 of the 10 classes (none of 4, 5, 6, 7, 8, 9)" in some.stderr
    every = train(tmp_path / "every", data, "-e", "1", "-b", "16", "--conditional", "--limit", "10")
    assert every.returncode == 0 and "never sees" not in every.stderr
