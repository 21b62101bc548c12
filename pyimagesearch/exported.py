"""A generator exported for sharing: a folder in the layout of the Hugging
Face Hub, `model.safetensors` (the state_dict, the article's key names),
`config.json` (the constructor's arguments and what the run was),
`generator.onnx` and a model card, `README.md`. generate.py --export writes
it (sharing/export.py); hub.DCGANGenerator.from_pretrained loads it; here
the scripts read it back, checked, from a folder or a Hub repository id.
"""

import dataclasses
import json
import os
import re

import torch

from .errors import UserError, shorten
from .models import CHANNELS, IMAGE_SIZES, describe, generator_geometry, model_classes

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
ONNX = "generator.onnx"
CARD = "README.md"
FORMAT = "pyimagesearch-dcgan-generator"
# a Hub repository id ("owner/name"), tried only where no such file or folder exists
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ExportError(UserError):
    """An exported folder (or Hub repository) that cannot be used; says why."""


@dataclasses.dataclass
class Exported:
    """A folder read by read_folder: its path, config.json, the state_dict."""
    path: str
    config: dict
    state: dict

    def build(self, device="cpu"):
        """The article's Generator (of this size) with these weights, in eval mode."""
        c = self.config
        Generator, _ = model_classes(c["imageSize"])
        gen = Generator(inputDim=c["inputDim"], outputChannels=c["outputChannels"])
        gen.load_state_dict(self.state, strict=True)
        return gen.to(device).eval()


def _config_problem(config):
    if not isinstance(config, dict):
        return "it is not a JSON object"
    for key, allowed in (("inputDim", None), ("outputChannels", CHANNELS),
                         ("imageSize", IMAGE_SIZES)):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 \
                or (allowed and value not in allowed):
            return (f"its {key!r} is {value!r}, not "
                    + (f"one of {', '.join(map(str, allowed))}" if allowed else "a positive integer"))
    if "channels" in config and config["channels"] != config["outputChannels"]:
        return f"its 'channels' ({config['channels']!r}) and 'outputChannels' differ"
    return None


def read_folder(path):
    """The Exported in `path` (a folder with config.json and
    model.safetensors), checked: readable, and the weights of the network
    config.json describes. ExportError in one line otherwise."""
    from safetensors.torch import load_file        # import here: only for exported folders
    names = [n for n in (CONFIG, WEIGHTS) if not os.path.isfile(os.path.join(path, n))]
    if names:
        raise ExportError(f"{path}: is a folder without {' and '.join(names)}, so not a "
                          "generator exported by generate.py --export (a checkpoint is a "
                          "file: pass checkpoint.pt or generator.pth)")
    try:
        with open(os.path.join(path, CONFIG), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"{os.path.join(path, CONFIG)}: not readable JSON ({shorten(e)})") from None
    problem = _config_problem(config)
    if problem:
        raise ExportError(f"{os.path.join(path, CONFIG)}: does not describe the article's "
                          f"Generator ({problem})")
    weights = os.path.join(path, WEIGHTS)
    try:
        state = load_file(weights)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own kinds
        raise ExportError(f"{weights}: not a readable safetensors file ({shorten(e)}); "
                          "export it again") from None
    geometry = generator_geometry(state)
    said = (config["inputDim"], config["outputChannels"], config["imageSize"])
    if geometry != said:
        drawn = "no generator of the article's" if geometry is None else \
            f"{describe(geometry[2], geometry[1])} images from {geometry[0]} noise values"
        raise ExportError(f"{path}: {CONFIG} does not fit {WEIGHTS}: it says "
                          f"{describe(said[2], said[1])} images from {said[0]} noise values, "
                          f"the weights draw {drawn}")
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise ExportError(f"{weights}: the weights hold NaN or infinite values")
    exported = Exported(path, config, state)
    try:
        exported.build()
    except RuntimeError as e:
        raise ExportError(f"{weights}: does not fit the article's Generator ({shorten(e)})") from None
    return exported


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
