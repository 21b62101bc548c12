"""A generator exported for sharing: a folder in the layout of the Hugging
Face Hub, `model.safetensors` (the state_dict, the article's key names),
`config.json` (the constructor's arguments and what the run was),
`generator.onnx` and a model card, `README.md`. generate.py --export writes
it (sharing/export.py); hub.DCGANGenerator.from_pretrained loads it; here
the scripts read it back, checked, from a folder or a Hub repository id.
"""

import dataclasses
import json
import math
import os
import re
import stat

import torch

from .cli import MAX_SEED
from .errors import UNPRINTABLE, UserError, shorten
from .files import sha256_of
from .models import (CHANNELS, CLASS_COUNT, IMAGE_SIZES, classes_of_generator, describe,
                     generator_geometry, model_classes)
from .noise import MAX_TRUNCATION, MIN_TRUNCATION

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
ONNX = "generator.onnx"
CARD = "README.md"
FORMAT = "pyimagesearch-dcgan-generator"
# a Hub repository id ("owner/name"), tried only where no such file or folder exists
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


# trained generators that ship with the code (docs/pretrained.md), each a
# folder of generate.py --export: the conditional one is what generate.py and
# demo.py draw from when given no --checkpoint
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = {"conditional": os.path.join("pretrained", "mnist-conditional"),
           "article": os.path.join("pretrained", "mnist-article")}


def shipped_generator(name="conditional"):
    """(the path of a shipped generator's folder, the line saying it is
    used when no --checkpoint was given); UserError when this copy of the
    code lacks it."""
    path = os.path.join(REPOSITORY, SHIPPED[name])
    if not os.path.lexists(path):
        raise UserError(f"no --checkpoint given, and the shipped generator {SHIPPED[name]} is "
                        "not in this copy of the code: pass --checkpoint with a checkpoint.pt, "
                        "a generator.pth or a folder of generate.py --export")
    changed = _changed_since_shipped(path)
    if changed:
        raise UserError(f"no --checkpoint given, and the shipped generator {SHIPPED[name]} "
                        f"{changed}: `git checkout {SHIPPED[name]}` restores it, or pass "
                        "--checkpoint with another generator")
    shown = os.path.relpath(path)
    shown = path if shown.startswith("..") else shown
    return path, (f"no --checkpoint: the shipped {name} generator {shown} (trained on 15,000 "
                  "MNIST digits; its README.md says how); --checkpoint "
                  "output/checkpoint.pt draws from your own run")


def _changed_since_shipped(path):
    """Why a shipped folder is not as it shipped (a file missing, not a
    regular file, or not the bytes whose SHA-256 its card names), or None."""
    card = os.path.join(path, CARD)
    try:
        with _open_regular(card, "a model card") as f:
            text = f.read(1 << 20).decode("utf-8", "replace")
    except (OSError, UserError):
        return f"lacks a readable {CARD}"
    for file in (WEIGHTS, CONFIG, ONNX):
        named = re.search(rf"^\| `{re.escape(file)}` \|.*`([0-9a-f]{{64}})` \|$", text, re.M)
        where = os.path.join(path, file)
        if not os.path.lexists(where):
            return f"lacks {file}"
        if not stat.S_ISREG(os.lstat(where).st_mode):
            return f"holds {file} as something other than a file"
        if named is None or sha256_of(where) != named[1]:
            return f"holds a {file} other than the one it shipped with (its SHA-256 differs)"
    return None


class ExportError(UserError):
    """An exported folder (or Hub repository) that cannot be used; says why."""


@dataclasses.dataclass
class Exported:
    """A folder read by read_folder: its path, config.json, the state_dict."""
    path: str
    config: dict
    state: dict

    def build(self, device="cpu"):
        """The article's Generator (of this size; told the classes when
        config.json has numClasses) with these weights, in eval mode."""
        c = self.config
        Generator, _ = model_classes(c["imageSize"], c.get("numClasses"))
        gen = Generator(inputDim=c["inputDim"], outputChannels=c["outputChannels"])
        gen.load_state_dict(self.state, strict=True)
        return gen.to(device).eval()


# config.json is a few KiB; a bigger one is no export of ours (and cannot
# make the JSON parser recurse for long: it is refused unread)
MAX_CONFIG_BYTES = 1 << 20
# data/sources.py's DATASETS and data/folder.py's INVERT_CHOICES, copied: this
# layer reads no data (test_export checks that the copies agree)
DATASETS = ("mnist", "fashion-mnist", "kmnist", "cifar10", "folder", "fake")
INVERT_CHOICES = ("auto", "yes", "no")
TEN_CLASSES = ("mnist", "fashion-mnist", "kmnist", "cifar10")
TEXT = {"type": ["string", "null"], "maxLength": 1000}
COUNT = {"type": ["integer", "null"], "minimum": 0}
SCORE_COUNTS = ("epoch", "classes_covered", "num_classes", "num_samples")
SCORE_NUMBERS = ("fld", "real_fld", "inception_score", "precision", "recall", "density",
                 "coverage", "as_asked", "worst_class_as_asked")
SEED = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SEED}
# a class's name as a card or a terminal shows it: none of errors.UNPRINTABLE
# (control and format characters, bidirectional overrides, line separators,
# lone surrogates), so that nothing in a file can move the cursor, retitle
# the terminal, break a line, hide in a name or turn the text around
PRINTABLE_NAME = {"type": ["string", "null"], "maxLength": 200,
                  "pattern": f"^[^{UNPRINTABLE}]*$"}
# the classes a conditional generator is told (config.json's numClasses, and
# the class count its weights hold)
NUM_CLASSES = {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000}
SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
CURVE_SHARES = ("as_asked", "worst_as_asked", "referee_as_asked", "referee_worst_as_asked",
                "precision", "recall")
# every field of config.json, as generate.py --export writes it and as the
# scripts, the model card and DCGANGenerator read it ("integer": not 1.0 nor
# true; "number": finite)
CONFIG_SCHEMA = {
    "type": "object",
    "required": ["inputDim", "outputChannels", "imageSize"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "format_version": {"type": "integer", "const": 1},
        "inputDim": {"type": "integer", "minimum": 1, "maximum": 100_000},
        # --conditional: the classes the generator is told (its input is
        # inputDim noise values, then a one-hot code of numClasses)
        "numClasses": NUM_CLASSES,
        "outputChannels": {"type": "integer", "enum": list(CHANNELS)},
        "imageSize": {"type": "integer", "enum": list(IMAGE_SIZES)},
        "channels": {"type": "integer", "enum": list(CHANNELS)},
        "weights": TEXT,
        "dataset": {"enum": [*DATASETS, None]},
        # one name a class, each said and told apart: none empty, none twice
        "class_names": {"type": ["array", "null"], "minItems": 1, "maxItems": 10_000,
                        "uniqueItems": True,
                        "items": {**PRINTABLE_NAME, "type": "string", "minLength": 1}},
        "data_source": TEXT,
        "data_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "num_train_images": COUNT,
        "seed": SEED,
        "epochs_trained": COUNT,
        "recipe": TEXT,
        # the truncation trick's T the folder recommends (the demo's default),
        # and the measured curve: the scores at each T (null: untruncated)
        "truncation": {"type": ["number", "null"], "minimum": MIN_TRUNCATION,
                       "maximum": MAX_TRUNCATION},
        "truncation_curve": {
            "type": ["array", "null"], "maxItems": 50,
            "items": {"type": "object", "maxProperties": 20,
                      "properties": {"truncation": {"type": ["number", "null"],
                                                    "minimum": MIN_TRUNCATION,
                                                    "maximum": MAX_TRUNCATION},
                                     "worst_class": PRINTABLE_NAME,
                                     "referee_worst_class": PRINTABLE_NAME,
                                     **{k: SHARE for k in CURVE_SHARES}},
                      "additionalProperties": {"type": ["number", "null"], "minimum": 0,
                                               "maximum": 1e9}}},
        "scores": {
            "type": ["object", "null"],
            "properties": {**{k: COUNT for k in SCORE_COUNTS},
                           **{k: {"type": ["number", "null"]} for k in SCORE_NUMBERS},
                           "worst_class": PRINTABLE_NAME},
            "additionalProperties": {"type": ["number", "null"]}},
        "training_arguments": {
            "type": ["object", "null"],
            "properties": {
                "dataset": {"enum": [*DATASETS, None]},
                "invert": {"enum": [*INVERT_CHOICES, None]},
                "limit": {"type": ["integer", "null"], "minimum": 1},
                "seed": SEED,
                "epochs": COUNT, "batch_size": COUNT,
                "image_size": {"type": ["integer", "null"], "enum": [*IMAGE_SIZES, None]},
                "channels": {"type": ["integer", "null"], "enum": [*CHANNELS, None]},
                "ema": {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 1}},
            "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                     "maxLength": 1000},
            "maxProperties": 200},
        "library_versions": {"type": ["object", "null"], "maxProperties": 50,
                             "additionalProperties": {"type": "string", "maxLength": 200}},
        # the command that trained it (OUTPUT, DIR, LOGDIR for the paths), where, how long
        "command": TEXT,
        "trained_on": TEXT,
        "training_seconds": {"type": ["number", "null"], "minimum": 0},
        # the Hub's licence id, and the data's licence in words (data/sources.py)
        "license": {"type": ["string", "null"], "pattern": "^[a-z0-9.-]{1,40}$"},
        "data_license": TEXT,
    },
    "allOf": [
        # the three MNIST look-alikes and CIFAR-10 have ten classes
        {"if": {"properties": {"dataset": {"enum": list(TEN_CLASSES)}},
                "required": ["dataset"]},
         "then": {"properties": {"class_names": {"minItems": 10, "maxItems": 10}}}},
    ],
}
# what a JSON type is called in a message
TYPE_WORDS = {"integer": "an integer", "number": "a finite number", "string": "a string",
              "object": "an object", "array": "a list", "boolean": "true or false",
              "null": "null"}


def _validator():
    """jsonschema's validator of CONFIG_SCHEMA, with JSON's integers and
    numbers as Python reads them: an integer is an int (not 1.0, not true),
    a number a finite int or float (not NaN nor Infinity, which Python's
    json reads)."""
    import jsonschema       # import here: only an exported folder's config.json is checked

    def integer(checker, value):
        return isinstance(value, int) and not isinstance(value, bool)

    def number(checker, value):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and (isinstance(value, int) or math.isfinite(value)))   # isfinite(10**400) raises

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({"integer": integer, "number": number})
    return jsonschema.validators.extend(base, type_checker=checker)(CONFIG_SCHEMA)


def _described(error):
    """A jsonschema error in words, naming the field."""
    path = list(error.absolute_path)
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                    for i, p in enumerate(path))
    value, kind = shorten(repr(error.instance), 60), error.validator
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"it lacks {', '.join(map(repr, missing))}" + (f" in {field!r}" if field else "")
    if kind == "additionalProperties" and not field:
        extra = sorted(set(error.instance) - set(CONFIG_SCHEMA["properties"]))
        return shorten(f"it holds fields no export writes: {', '.join(map(repr, extra))}")
    if kind == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) \
            else [error.validator_value]
        said = "not " + " or ".join(TYPE_WORDS[k] for k in kinds)
    elif kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        said = "not " + ("one of " if len(allowed) > 1 else "") \
            + ", ".join("null" if a is None else repr(a) for a in allowed)
    elif kind in ("minItems", "maxItems", "maxProperties"):
        said = (f"has {len(error.instance):,} entries, "
                f"{'at least' if kind == 'minItems' else 'at most'} {error.validator_value:,} "
                "expected")
    elif kind == "pattern" and error.validator_value == PRINTABLE_NAME["pattern"]:
        said = ("it holds a control character, a format character (a bidirectional "
                "override, a zero-width space, a soft hyphen), a line separator or a lone "
                "surrogate (not shown as text)")
    elif kind == "minLength" and error.validator_value == 1:
        said = "empty: every class needs a name"
    elif kind == "uniqueItems":
        twice = next(n for i, n in enumerate(error.instance) if n in error.instance[:i])
        said = f"names {twice!r} twice: two classes would be told apart by nothing"
    else:                   # the bounds of a number, a string's length or pattern
        said = shorten(error.message.removeprefix(repr(error.instance)).strip().removeprefix("is "))
    return f"its {field or 'content'!r} is {value}: {said}" if kind in (
        "minItems", "maxItems", "maxProperties") else f"its {field!r} is {value}, {said}"


def config_problem(config):
    """What is wrong with config.json's content `config`, in one line
    naming the field; None when it is what generate.py --export writes."""
    if not isinstance(config, dict):
        return "it is not a JSON object"
    from jsonschema.exceptions import best_match   # import here: as _validator's
    error = best_match(_validator().iter_errors(config))
    if error is not None:
        return _described(error)
    if "channels" in config and config["channels"] != config["outputChannels"]:
        return f"its 'channels' ({config['channels']!r}) and 'outputChannels' differ"
    numClasses, names = config.get("numClasses"), config.get("class_names")
    if numClasses is not None and names is not None and len(names) != numClasses:
        return (f"its 'class_names' has {len(names):,} entries, its 'numClasses' says "
                f"{numClasses:,}")
    return None


def _open_regular(path, what):
    """A binary file object of `path` (a link is followed: the Hub's cache
    holds links), or ExportError when it is no regular file (a folder, a
    FIFO that would block, a device)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise ExportError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ExportError(f"{path}: is not a regular file, so not {what} written by "
                          "generate.py --export")
    return os.fdopen(fd, "rb")


def _read_config(path):
    """config.json's content, checked against CONFIG_SCHEMA."""
    with _open_regular(path, "a config.json") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ExportError(f"{path}: over {MAX_CONFIG_BYTES // 1024:,} KiB, not a config.json "
                          "written by generate.py --export (a few KiB)")
    try:
        config = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ExportError(f"{path}: not readable JSON (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"{path}: not readable JSON ({shorten(e)})") from None
    problem = config_problem(config)
    if problem:
        raise ExportError(f"{path}: not a config.json generate.py --export writes ({problem})")
    return config


def _dtype_problem(state, expected):
    """A tensor of `state` whose kind differs from the same tensor of the
    built Generator's state_dict `expected` (floating point weights, integer
    counters): named, or None. Nothing is cast in silence."""
    for key, tensor in state.items():
        want = expected.get(key)
        if want is None:
            continue                        # load_state_dict names a stray key
        if tensor.dtype == torch.bool or tensor.is_complex() \
                or tensor.is_floating_point() != want.is_floating_point():
            return (f"its tensor {key!r} is {str(tensor.dtype).removeprefix('torch.')}, "
                    f"where the Generator holds {str(want.dtype).removeprefix('torch.')}")
    return None


def _class_count_problem(state):
    """Why the class count a conditional generator's weights hold (the
    buffer numClasses) is none config.json's numClasses may be (an integer
    from 1 to 10,000), or None."""
    value = state.get(CLASS_COUNT)
    if value is None or value.is_floating_point() or value.dtype == torch.bool:
        return None                         # none, or a kind _dtype_problem names
    low, high = NUM_CLASSES["minimum"], NUM_CLASSES["maximum"]
    if value.numel() != 1 or not low <= int(value) <= high:
        shown = int(value) if value.numel() == 1 else f"{value.numel():,} values"
        return (f"its {CLASS_COUNT!r} holds {shown}, not a class count from {low} to "
                f"{high:,}")
    return None


def read_folder(path):
    """The Exported in `path` (a folder with config.json and
    model.safetensors), checked: readable, and the weights of the network
    config.json describes. ExportError in one line otherwise."""
    from safetensors.torch import load       # import here: only for exported folders
    names = [n for n in (CONFIG, WEIGHTS) if not os.path.lexists(os.path.join(path, n))]
    if names:
        raise ExportError(f"{path}: is a folder without {' and '.join(names)}, so not a "
                          "generator exported by generate.py --export (a checkpoint is a "
                          "file: pass checkpoint.pt or generator.pth)")
    config = _read_config(os.path.join(path, CONFIG))
    weights = os.path.join(path, WEIGHTS)
    with _open_regular(weights, "a model.safetensors") as f:
        try:
            state = load(f.read())
        except Exception as e:  # noqa: BLE001 - safetensors raises its own kinds
            raise ExportError(f"{weights}: not a readable safetensors file ({shorten(e)}); "
                              "export it again") from None
    problem = _class_count_problem(state)
    if problem:
        raise ExportError(f"{weights}: not the weights generate.py --export writes ({problem}); "
                          "export it again")
    numClasses, told = config.get("numClasses"), classes_of_generator(state)
    if numClasses != told:
        raise ExportError(f"{path}: {CONFIG} does not fit {WEIGHTS}: it says "
                          f"{_classes_words(numClasses)}, the weights were trained on "
                          f"{_classes_words(told)}")
    geometry = generator_geometry(state)
    # a conditional generator's first layer takes the noise and the one-hot code
    said = (config["inputDim"] + (numClasses or 0), config["outputChannels"], config["imageSize"])
    if geometry != said:
        drawn = "no generator of the article's" if geometry is None else \
            f"{describe(geometry[2], geometry[1])} images from {geometry[0]} noise values"
        raise ExportError(f"{path}: {CONFIG} does not fit {WEIGHTS}: it says "
                          f"{describe(said[2], said[1])} images from {said[0]} noise values, "
                          f"the weights draw {drawn}")
    Generator, _ = model_classes(config["imageSize"], numClasses)
    problem = _dtype_problem(state, Generator(inputDim=config["inputDim"],
                                              outputChannels=config["outputChannels"]).state_dict())
    if problem:
        raise ExportError(f"{weights}: not the weights generate.py --export writes ({problem})")
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise ExportError(f"{weights}: the weights hold NaN or infinite values")
    exported = Exported(path, config, state)
    try:
        exported.build()
    except RuntimeError as e:
        raise ExportError(f"{weights}: does not fit the article's Generator ({shorten(e)})") from None
    return exported


def _classes_words(numClasses):
    """'10 classes (a conditional generator)' or 'no classes (...)'."""
    if numClasses is None:
        return "no classes (an unconditional generator)"
    return f"{numClasses:,} class{'es' if numClasses != 1 else ''} (a conditional generator)"


def looks_like_hub_id(name):
    """Whether `name`, not a path on this machine, may be a Hub repository."""
    return (not os.path.lexists(name) and HUB_ID.fullmatch(name) is not None
            and not name.endswith((".pt", ".pth")))


def download(repoId):
    """The local folder of Hub repository `repoId` (config.json,
    model.safetensors, README.md), downloaded or from huggingface_hub's
    cache; ExportError in one line where it cannot be had."""
    from huggingface_hub import snapshot_download   # import here: only for a Hub id
    try:
        return snapshot_download(repo_id=repoId, allow_patterns=[CONFIG, WEIGHTS, CARD])
    except Exception as e:  # noqa: BLE001 - network, authentication, a missing repository
        raise ExportError(f"{repoId}: no such file or folder here, and not downloadable from "
                          f"the Hugging Face Hub ({shorten(e)})") from None
