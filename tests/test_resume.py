"""--resume alone, in milliseconds, without the article's models or any
training: the argument merge by each option's rule, the checks, and a
save-then-restore round trip of a two-parameter model, its Adam and its
random streams."""

import pytest
import torch

from pyimagesearch.checkpoint import CheckpointError
from pyimagesearch.data.imageset import DataError, ImageSet
from pyimagesearch.errors import UsageError
from pyimagesearch.training.history import History
from pyimagesearch.training.options import INHERITED, PER_INVOCATION, SHAPES
from pyimagesearch.training.record import RunRecord
from pyimagesearch.training.resume import Resume, epochs_to_train, merge_arguments, save_checkpoint, \
    what_changed
from pyimagesearch.training.streams import RandomStreams

RULES = {"output": PER_INVOCATION, "stop_after": PER_INVOCATION, "seed": SHAPES,
         "batch_size": SHAPES, "epochs": INHERITED, "eval_every": INHERITED}
SAVED = {"output": "/old", "stop_after": 3, "seed": 7, "batch_size": 16, "epochs": 5,
         "eval_every": 2}


def parsed(**typed):
    """argparse's dict for a command that typed `typed`: defaults otherwise."""
    return {**{"output": "/new", "stop_after": None, "seed": 42, "batch_size": 128,
               "epochs": 20, "eval_every": 0}, **typed}


def test_the_rest_is_inherited_and_this_invocations_own_are_kept():
    args = parsed(output="/new")
    merged = merge_arguments(SAVED, args, typed={"output": "/new"}, rules=RULES)
    assert merged == {"output": "/new", "stop_after": None, "seed": 7, "batch_size": 16,
                      "epochs": 5, "eval_every": 2}
    assert args == parsed(output="/new")                  # a new dict: the given one unchanged


def test_an_inherited_option_typed_again_takes_the_new_value():
    typed = {"output": "/new", "epochs": 30, "eval_every": 1}
    merged = merge_arguments(SAVED, parsed(**typed), typed, RULES)
    assert merged["epochs"] == 30 and merged["eval_every"] == 1 and merged["seed"] == 7


def test_a_shaping_option_typed_again_must_be_the_same():
    typed = {"output": "/new", "seed": 7}
    assert merge_arguments(SAVED, parsed(**typed), typed, RULES)["seed"] == 7
    typed = {"output": "/new", "batch_size": 32}
    with pytest.raises(UsageError) as refused:
        merge_arguments(SAVED, parsed(**typed), typed, RULES)
    assert str(refused.value) == ("argument --batch-size: 32 differs from the checkpoint's 16; a "
                                  "resumed run keeps --batch-size (start a new run in another "
                                  "--output folder instead)")


def test_an_option_the_checkpoint_does_not_know_keeps_its_default():
    merged = merge_arguments({"seed": 7}, parsed(), {}, RULES)
    assert merged["epochs"] == 20 and merged["seed"] == 7


def test_where_the_epochs_of_an_invocation_stop():
    assert epochs_to_train("o", 20, 0, None) == 20
    assert epochs_to_train("o", 20, 6, 5) == 11
    assert epochs_to_train("o", 20, 18, 5) == 20
    with pytest.raises(SystemExit) as done:
        epochs_to_train("o", 20, 20, None)
    assert done.value.code == 0


def test_a_folder_without_a_checkpoint_says_why_it_cannot_resume(tmp_path):
    with pytest.raises(CheckpointError, match=r"cannot resume: .*checkpoint.pt: no such file"):
        Resume.load(str(tmp_path))
    (tmp_path / "run.json").write_text('{"status": "interrupted", "losses": []}')
    with pytest.raises(CheckpointError, match="stopped before finishing its first epoch"):
        Resume.load(str(tmp_path))
    # a run that finished epochs but lost its checkpoint is not started over
    # by the command without --resume: the line says what does
    (tmp_path / "run.json").write_text('{"status": "finished", "losses": [{"epoch": 1}]}')
    with pytest.raises(CheckpointError, match="--overwrite instead of --resume"):
        Resume.load(str(tmp_path))
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(CheckpointError, match="cannot resume: .*truncated or corrupt"):
        Resume.load(str(tmp_path))


class Tiny(torch.nn.Module):
    """Two parameters, and a stand-in for G and D alike."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.0]))
        self.b = torch.nn.Parameter(torch.tensor([0.0]))

    def forward(self, x):
        return self.w * x + self.b


def trained_a_little(streams):
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        x = torch.randn(4, generator=streams.noise)
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    return model, opt


def a_record(tmp_path, **content):
    """run.json as a new run writes it: every key a resume reads."""
    return RunRecord({"arguments": {"epochs": 4}, "data_sha256": "abc", "num_train_images": 2,
                      "data_source": "two black images", "seconds_per_epoch": [], "losses": [],
                      "montages": [], "resumed_at_epochs": [], "metrics": [], **content},
                     str(tmp_path / "run.json"))


def test_save_then_restore_continues_exactly(tmp_path):
    streams = RandomStreams(seed=5, rank=0, device="cpu")
    gen, genOpt = trained_a_little(streams)
    disc, discOpt = trained_a_little(streams)
    data = ImageSet(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long),
                    "two black images")
    record = a_record(tmp_path)
    noise = torch.randn(3, 100, 1, 1)
    save_checkpoint(str(tmp_path / "checkpoint.pt"), 1, gen, disc, genOpt, discOpt, None, noise,
                    History(), [streams.capture()], record, "data")
    expected = torch.randn(4, generator=streams.noise)         # what comes next

    resume = Resume.load(str(tmp_path))
    # (arguments written without --image-size and --channels read as the article's 28 and 1)
    assert resume.epoch == 2 and resume.checkpoint.args == {"epochs": 4, "image_size": 28,
                                                            "channels": 1}
    fresh = RandomStreams(seed=99, rank=0, device="cpu")
    gen2, disc2 = Tiny(), Tiny()
    genOpt2 = torch.optim.Adam(gen2.parameters(), lr=0.1)
    discOpt2 = torch.optim.Adam(disc2.parameters(), lr=0.1)
    restored = resume.restore(gen2, disc2, genOpt2, discOpt2, None, fresh, rank=0)
    assert torch.equal(restored, noise)
    assert all(torch.equal(a, b) for a, b in zip(gen.parameters(), gen2.parameters()))
    assert torch.equal(genOpt2.state_dict()["state"][0]["exp_avg"],
                       genOpt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.randn(4, generator=fresh.noise), expected)
    assert resume.record(str(tmp_path / "run.json")).content["resumed_at_epochs"] == [2]
    resume.check_images("abc", data)
    with pytest.raises(DataError, match="trained on other images"):
        resume.check_images("def", data)
    resume.check_processes(1)
    with pytest.raises(CheckpointError, match="trained by 1 processes, this is 2"):
        resume.check_processes(2)


def test_weights_that_do_not_fit_are_one_line(tmp_path):
    streams = RandomStreams(seed=5, rank=0, device="cpu")
    gen, genOpt = trained_a_little(streams)
    record = a_record(tmp_path)
    save_checkpoint(str(tmp_path / "checkpoint.pt"), 0, gen, gen, genOpt, genOpt, None,
                    torch.zeros(1), History(), [streams.capture()], record, "data")
    other = torch.nn.Linear(3, 3)
    with pytest.raises(CheckpointError, match="does not fit the article's models "
                       r"\(missing weight, bias; unexpected w, b\)"):
        Resume.load(str(tmp_path)).restore(other, other, torch.optim.Adam(other.parameters()),
                                           torch.optim.Adam(other.parameters()), None, streams, 0)


def test_the_data_dir_is_the_checkpoints_unless_typed(tmp_path):
    resume = Resume(type("C", (), {"dataDir": "/abs/data"})(), "checkpoint.pt")
    assert resume.data_dir("data", typed={}) == "/abs/data"
    assert resume.data_dir("mine", typed={"data_dir": "mine"}) == "mine"


@pytest.mark.parametrize("field, value, said", [
    ("epoch", "seven", "its 'epoch' is str, not int"),
    ("epoch", -1, "its 'epoch' is -1"),
    ("generator", [1, 2], "its 'generator' is list, not dict"),
    ("generator", {"w": "not a tensor"}, "its 'generator' is not a state_dict of tensors"),
    ("ema", {"decay": 0.9}, "its 'ema' has no 'model' state_dict"),
    ("args", None, "its 'args' is None, not dict"),
    ("run", {"status": "finished"}, "its run record's 'data_sha256' is None, not str"),
    ("rng", [{"torch": 1}], "its 'rng' is not a list of random states"),
])
def test_every_field_of_a_checkpoint_is_checked_on_load(tmp_path, field, value, said):
    streams = RandomStreams(seed=5, rank=0, device="cpu")
    gen, genOpt = trained_a_little(streams)
    save_checkpoint(str(tmp_path / "checkpoint.pt"), 0, gen, gen, genOpt, genOpt, None,
                    torch.zeros(1), History(), [streams.capture()], a_record(tmp_path), "data")
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    Resume.load(str(tmp_path))                                   # as written: fine
    torch.save(dict(saved, **{field: value}), tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError) as refused:
        Resume.load(str(tmp_path))
    assert str(refused.value).endswith(f"not a training checkpoint of dcgan_mnist.py ({said})")


def test_other_images_are_refused_naming_what_changed():
    saved = {"data_source": "image folder 'a' (4 images, 2 classes)", "num_train_images": 4,
             "class_names": ["cat", "dog"], "data_sha256": "a" * 64}
    data = ImageSet(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
                    saved["data_source"], classes=["cat", "wolf"])
    assert what_changed(saved, "b" * 64, data) == [
        "classes cat, dog, now cat, wolf", "SHA-256 aaaaaaaaaaaa..., now bbbbbbbbbbbb..."]
    data.classes = ["cat", "dog"]
    assert what_changed(saved, "b" * 64, data) == [
        "the same 4 images in another order or with other pixels: SHA-256 aaaaaaaaaaaa..., "
        "now bbbbbbbbbbbb..."]
    more = ImageSet(torch.zeros(5, 1, 28, 28, dtype=torch.uint8), torch.zeros(5, dtype=torch.long),
                    "image folder 'a' (5 images, 2 classes)", classes=["cat", "dog"])
    assert what_changed(saved, "b" * 64, more)[:2] == [
        "from image folder 'a' (4 images, 2 classes), now from image folder 'a' (5 images, "
        "2 classes)", "4 images, now 5"]
