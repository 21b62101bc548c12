"""checkpoint.pt: its layout (the `Checkpoint` fields, written and read here
and nowhere else), and reading the generator's weights from any file the
project or the article writes."""

import dataclasses
import os
import stat
import warnings
import zipfile

import torch

from . import exported, files
from .errors import UserError, shorten
from .models import (classes_of_generator, describe, discriminator_geometry,
                     generator_geometry, model_classes)

# what a checkpoint written before --image-size and --channels trained: the article's
SHAPE_BEFORE_SIZES = {"image_size": 28, "channels": 1}
# inside a run's folder: where --overwrite sets the previous run aside until
# the new one has saved an epoch (training/output_folder.py)
SET_ASIDE = ".previous-run"


class CheckpointError(UserError):
    """A checkpoint or weights file that cannot be used; the message says why."""


@dataclasses.dataclass
class Checkpoint:
    """Everything the next epoch of a run depends on."""
    epoch: int                    # epochs finished
    generator: dict               # state_dicts, the article's key names
    discriminator: dict
    genOpt: dict
    discOpt: dict
    benchmarkNoise: torch.Tensor  # (256, 100, 1, 1): the montages' noise
    history: torch.Tensor         # history.History rows
    rng: list                     # each process's random states (RandomStreams.capture)
    args: dict                    # the run's arguments
    run: dict                     # run.json's content
    ema: dict = None              # ema.GeneratorEMA.state_dict(), with --ema
    dataDir: str = None           # --data-dir as an absolute path (args: as typed)

    def save(self, path):
        """Written whole or not at all (files.save_torch)."""
        files.save_torch(path, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    @classmethod
    def from_dict(cls, obj, path):
        """The Checkpoint in a loaded file; CheckpointError if it is none."""
        if isinstance(obj, dict) and "rngPerProcess" in obj:       # written by version 1
            obj = dict(obj, rng=obj.pop("rngPerProcess"))
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        if not isinstance(obj, dict) or any(name not in obj for name in required):
            raise CheckpointError(f"{path}: not a training checkpoint of dcgan_mnist.py "
                                  "(a generator.pth holds weights only and cannot be resumed)")
        if isinstance(obj["rng"], dict):                           # written by version 1
            obj = dict(obj, rng=[obj["rng"]])
        if isinstance(obj["args"], dict):                 # written before --image-size
            obj = dict(obj, args={**SHAPE_BEFORE_SIZES, **obj["args"]})
        problem = field_problem(obj)
        if problem:
            raise CheckpointError(f"{path}: not a training checkpoint of dcgan_mnist.py "
                                  f"({problem})")
        return cls(**{f.name: obj.get(f.name) for f in dataclasses.fields(cls)})


# what each field of a checkpoint must be, and what of run.json a resume reads
KINDS = {"epoch": int, "generator": dict, "discriminator": dict, "genOpt": dict, "discOpt": dict,
         "benchmarkNoise": torch.Tensor, "history": torch.Tensor, "rng": list, "args": dict,
         "run": dict}
RUN_KEYS = {"data_sha256": str, "num_train_images": int, "data_source": str,
            "seconds_per_epoch": list, "losses": list, "montages": list,
            "resumed_at_epochs": list, "metrics": list}
RNG_KEYS = ("torch", "noise", "shuffle")


def _kind(value):
    return "None" if value is None else type(value).__name__


def field_problem(obj):
    """What is wrong with a loaded checkpoint's fields, naming the field;
    None when each is what dcgan_mnist.py writes."""
    for name, kind in KINDS.items():
        value = obj[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"its '{name}' is {_kind(value)}, not {kind.__name__}"
    if obj["epoch"] < 0:
        return f"its 'epoch' is {obj['epoch']}"
    for name in ("generator", "discriminator"):
        if not obj[name] or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                    for k, v in obj[name].items()):
            return f"its '{name}' is not a state_dict of tensors"
    ema = obj.get("ema")
    if ema is not None and not (isinstance(ema, dict) and isinstance(ema.get("model"), dict)):
        return "its 'ema' has no 'model' state_dict"
    for key, kind in RUN_KEYS.items():
        if not isinstance(obj["run"].get(key), kind):
            return f"its run record's '{key}' is {_kind(obj['run'].get(key))}, not {kind.__name__}"
    if not isinstance(obj["args"].get("epochs"), int):
        return "its arguments hold no 'epochs'"
    if not obj["rng"] or not all(isinstance(r, dict) and all(
            isinstance(r.get(k), torch.Tensor) for k in RNG_KEYS) for r in obj["rng"]):
        return "its 'rng' is not a list of random states"
    return None


def mismatch(model, state):
    """How the state_dict `state` does not fit `model`, naming the keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and hasattr(state[k], "shape")
              and tuple(state[k].shape) != tuple(expected[k].shape)]

    def some(keys):
        return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    said = ([f"missing {some(missing)}"] if missing else []) \
        + ([f"unexpected {some(unexpected)}"] if unexpected else []) \
        + [f"{k} is {list(state[k].shape)} in the file, {list(expected[k].shape)} in the "
           "model" for k in shapes[:2]]
    return "; ".join(said)


# ------------------------------------------------------------------ reading

def load(path):
    """torch.load of a file we or the article wrote, without running any
    pickled code (weights_only); or, for a folder that generate.py --export
    wrote or a Hugging Face Hub repository id, an exported.Exported. Raises
    CheckpointError (or exported.ExportError) in words."""
    path = os.fspath(path)
    if exported.looks_like_hub_id(path):
        return exported.read_folder(exported.download(path))
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file" + set_aside_note(path))
    if os.path.isdir(path):
        return exported.read_folder(path)
    if not stat.S_ISREG(os.stat(path).st_mode):        # a FIFO would block open() forever
        raise CheckpointError(f"{path}: not a regular file (a pipe, a device or a socket); "
                              "give the file itself")
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive ("PK\x03\x04"); PyTorch < 1.6 a pickle
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise CheckpointError(f"{path}: not a PyTorch file (torch.save writes a zip archive)")
    if head[:2] == b"PK" and not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable PyTorch file (it starts like the zip "
                              "archive torch.save writes, but is not one: truncated or corrupt?)")
    try:
        with warnings.catch_warnings():     # its guesses about odd files: ours follow
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds here
        if "Weights only load failed" in str(e):
            reason = ("it holds pickled Python objects besides tensors, which "
                      "are not loaded, for safety")
        else:
            reason = shorten(shorten(e, 10_000).split(". ")[0])
        raise CheckpointError(f"{path}: not a readable PyTorch file ({reason})") from None


def set_aside_note(path):
    """Where a missing file of a run's folder is, when an --overwrite killed
    before its first epoch set that run aside ("" when it did not)."""
    folder, name = os.path.split(os.path.abspath(path))
    if not os.path.lexists(os.path.join(folder, SET_ASIDE, name)):
        return ""
    return (f"; the run in {folder} was set aside in {os.path.join(folder, SET_ASIDE)} by an "
            "--overwrite killed before its first epoch: the next `python dcgan_mnist.py "
            f"--output {folder}` (plain, --resume or --overwrite) puts it back")


def load_checkpoint(path):
    """A checkpoint.pt written by dcgan_mnist.py."""
    return Checkpoint.from_dict(load(path), path)


@dataclasses.dataclass(frozen=True)
class TrainedWith:
    """What a saved run trained on: its --dataset, --data-dir (absolute, so
    that it is found from any working folder), --invert, --limit, --seed,
    --image-size and --channels; the defaults for weights alone."""
    dataset: str = "mnist"
    dataDir: str = "data"
    invert: str = "auto"
    limit: int = None
    seed: int = 0
    imageSize: int = 28
    channels: int = 1

    def given(self, dataset=None, dataDir=None, invert=None):
        """The same, with what a command gives instead (None: the run's)."""
        return dataclasses.replace(self, dataset=dataset or self.dataset,
                                   dataDir=dataDir or self.dataDir, invert=invert or self.invert)


def trained_with(obj, path, gen=None):
    """The TrainedWith of the run that wrote `obj` (a loaded file) when it is
    a checkpoint.pt; for weights alone the defaults, at the size and
    channels of the generator `gen` built from them."""
    if isinstance(obj, exported.Exported):
        was = obj.config.get("training_arguments") or {}
        default = TrainedWith()
        return TrainedWith(dataset=was.get("dataset") or default.dataset,
                           invert=was.get("invert") or default.invert, limit=was.get("limit"),
                           seed=obj.config.get("seed", default.seed),
                           imageSize=obj.config["imageSize"],
                           channels=obj.config["outputChannels"])
    if not (isinstance(obj, dict) and "generator" in obj):
        if gen is None:
            return TrainedWith()
        return TrainedWith(imageSize=gen.imageSize, channels=gen.channels)
    checkpoint = Checkpoint.from_dict(obj, path)
    args, default = checkpoint.args, TrainedWith()
    return TrainedWith(dataset=args.get("dataset") or default.dataset,
                       dataDir=checkpoint.dataDir or args.get("data_dir") or default.dataDir,
                       invert=args.get("invert") or default.invert, limit=args.get("limit"),
                       seed=args.get("seed", default.seed), imageSize=args["image_size"],
                       channels=args["channels"])


def generator_state(path, which="auto", loaded=None):
    """The generator's state_dict from any of the files we know:
    a checkpoint.pt, a generator.pth, or a state_dict saved by the article's
    own code (`torch.save(gen.state_dict(), ...)`).

    which: "auto" (the EMA weights when the file has them, else the trained
    ones), "ema" or "live". loaded: the file's content when the caller
    already read it with load(path). Returns (state_dict, description).
    """
    obj = load(path) if loaded is None else loaded
    if isinstance(obj, exported.Exported):
        if which == "ema":
            raise CheckpointError(f"{path}: an exported generator is one set of weights (the "
                                  "one it was exported with), so there is no EMA copy to choose")
        return obj.state, f"exported generator in {path}"
    if isinstance(obj, dict) and "generator" in obj:        # checkpoint.pt
        checkpoint = Checkpoint.from_dict(obj, path)
        hasEma = checkpoint.ema is not None
        if which == "ema" and not hasEma:
            raise CheckpointError(f"{path}: has no EMA weights (the run did not use --ema)")
        if which == "ema" or (which == "auto" and hasEma):
            return checkpoint.ema["model"], f"EMA generator of {path} (epoch {checkpoint.epoch})"
        return checkpoint.generator, f"generator of {path} (epoch {checkpoint.epoch})"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        # a generator.pth or generator_ema.pth: the weights it holds
        if which == "ema":
            raise CheckpointError(f"{path}: holds one generator's weights, so there is no EMA "
                                  "copy to choose (--weights ema takes the checkpoint.pt of an "
                                  "--ema run; a generator_ema.pth is used as it is)")
        return obj, f"generator weights in {path}"
    raise CheckpointError(f"{path}: neither a checkpoint.pt nor a generator state_dict")


def build_generator(path, which="auto", device="cpu", loaded=None):
    """The Generator (of the size its weights have: models.py) in eval mode
    with the weights of `path` (see generator_state); `gen.imageSize` and
    `gen.channels` say what it draws. Raises CheckpointError when they do
    not fit."""
    state, description = generator_state(path, which, loaded)
    geometry = generator_geometry(state)
    if geometry is None:
        raise CheckpointError(f"{path}: no 'ct1.weight' ... 'ct4.weight' (or 'ct5.weight') "
                              "convolutions, so not the article's Generator at any size")
    inputDim, channels, imageSize = geometry
    if channels not in (1, 3):
        raise CheckpointError(f"{path}: this generator draws {channels}-channel images; "
                              "these scripts take 1 (grey) or 3 (colour)")
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise CheckpointError(f"{path}: the weights hold NaN or infinite values (the "
                              "training diverged); use an earlier checkpoint")
    numClasses = classes_of_generator(state)           # --conditional's generators say so
    if numClasses is not None and not 1 <= numClasses < inputDim:
        raise CheckpointError(f"{path}: its class count, {numClasses}, does not fit its "
                              f"input of {inputDim}")
    Generator, _ = model_classes(imageSize, numClasses)
    gen = Generator(inputDim=inputDim - (numClasses or 0), outputChannels=channels)
    try:
        gen.load_state_dict(state, strict=True)
    except RuntimeError as e:
        said = mismatch(gen, state) or shorten(e)
        raise CheckpointError(f"{path}: weights do not fit the article's Generator at "
                              f"{describe(imageSize, channels)} ({said})") from None
    gen.imageSize, gen.channels = imageSize, channels
    return gen.to(device).eval(), description


def build_discriminator(path, loaded=None, device="cpu"):
    """The article's Discriminator (of its checkpoint's size) with the
    weights of a checkpoint.pt (a generator.pth holds none:
    CheckpointError says so)."""
    obj = load(path) if loaded is None else loaded
    if not (isinstance(obj, dict) and "generator" in obj):
        raise CheckpointError(f"{path}: holds a generator's weights only; the discriminator "
                              "is in a training run's checkpoint.pt (pass --checkpoint OUTPUT/checkpoint.pt)")
    state = Checkpoint.from_dict(obj, path).discriminator
    depth, imageSize = discriminator_geometry(state) or (1, 28)
    embed = state.get("embed.weight")             # --conditional's projection: (classes, 512)
    numClasses = embed.shape[0] if isinstance(embed, torch.Tensor) and embed.dim() == 2 else None
    _, Discriminator = model_classes(imageSize, numClasses)
    disc = Discriminator(depth=depth)
    try:
        disc.load_state_dict(state, strict=True)
    except RuntimeError as e:
        said = mismatch(disc, state) or shorten(e)
        raise CheckpointError(f"{path}: its discriminator does not fit the article's ({said})") from None
    return disc.to(device).eval()
