"""Choosing samples of one class: the project's evaluator labels every
sample, and with `--digit D` only those it calls D with probability at
least `minConfidence` are kept. (An FLD computed with the same evaluator on
samples it selected is biased in its own favour: no quality gain is
claimed from it.)

A conditional generator (--conditional) is told the class instead: no
evaluator, no rejection. `recorded_class_names` says what its classes are
called, `class_label` reads a class the user names, `montage_rows` gives
the montage one class a row."""

import math

import torch

from ..data.cifar import CLASS_NAMES as CIFAR10
from ..data.sources import CLASS_NAMES
from ..exported import Exported
from ..sampling import latent
from ..sampling import rejection
from ..sampling.rejection import BATCH, TooFewAccepted, acceptance_message, hopeless
from ..errors import UserError, printable
from .evaluator import predict

MIN_CONFIDENCE = 0.9


class NeverDrawn(TooFewAccepted):
    """The evaluator calls none of the generator's samples the class asked
    for: no setting of the confidence or the count can help."""


def label_of(name, classes):
    """The label of a class given by name or number, or UserError."""
    if name in classes:
        return classes.index(name)
    if is_number(name) and int(name) < len(classes):
        return int(name)
    raise UserError(f"no class {name!r}: the classes are {printable(', '.join(classes))}")


def is_number(name):
    """Whether a class a user gave is a number: ASCII digits only
    ('²' and '٣' pass str.isdigit(), and int('²') raises)."""
    return name.isascii() and name.isdigit()


def recorded_class_names(saved, numClasses):
    """The names of a conditional generator's `numClasses` classes, by
    label, as the file it came from (`saved`, loaded) records them: an
    exported folder's config.json, a checkpoint.pt's last scores (the data's
    own names) or its --dataset's; None where unknown (a generator.pth holds
    weights only) or when their count is not the generator's."""
    names = None
    if isinstance(saved, Exported):
        names = saved.config.get("class_names")
    elif isinstance(saved, dict) and isinstance(saved.get("run"), dict):
        scored = saved["run"].get("metrics") or [{}]
        dataset = (saved.get("args") or {}).get("dataset")
        names = (saved["run"].get("class_names") or scored[-1].get("class_names")
                 or CLASS_NAMES.get(dataset)
                 or (CIFAR10 if dataset == "cifar10" else None))
    # as they are shown and asked for: escaped (a folder's name, a file from the Hub)
    return [printable(n) for n in names] if names and len(names) == numClasses else None


def class_label(name, names, numClasses):
    """The label (0..numClasses-1) of the class a user gave by name or
    number; `names`: recorded_class_names (None: numbers only). UserError,
    in one line, for a class the generator does not have."""
    if name in (names or ()):
        return names.index(name)
    if is_number(name) and int(name) < numClasses:
        return int(name)
    known = (", ".join(names) if names else
             f"0 to {numClasses - 1} (the file does not record their names)")
    raise UserError(f"no class {name!r}: the generator draws {numClasses} classes: {known}")


def montage_rows(num, numClasses, perRow=None):
    """The classes of a montage's `num` cells (num,): one class a row of
    `perRow` cells (None: the smallest square grid that holds them,
    visualize.build_montage's), in order, starting again after the last (12
    rows of 10 classes: 0 to 9, then 0 and 1)."""
    if perRow is None:
        perRow = math.isqrt(num - 1) + 1 if num else 1     # ceil(sqrt(num))
    return (torch.arange(num) // perRow) % numClasses


class DigitSelector:
    """Samples the evaluator calls `label` with at least `minConfidence`,
    from noise truncated at `truncation` (None: not truncated)."""

    def __init__(self, gen, model, device, seed, truncation=None):
        self.gen, self.model, self.device, self.seed = gen, model, device, seed
        self.truncation = truncation

    def sample(self, label, num, minConfidence=MIN_CONFIDENCE, maxDraws=None, name=None):
        """(images, their noise vectors, numbers); TooFewAccepted after
        maxDraws (by default rejection.MAX_DRAWS, every sampler's limit) samples;
        NeverDrawn when none of them is the class at all (`name`: the class as
        the user gave it, for the message; None: its label)."""
        maxDraws = rejection.MAX_DRAWS if maxDraws is None else maxDraws
        kept, noise, draws, accepted, drawn = [], [], 0, 0, 0
        while accepted < num:
            if hopeless(accepted, draws, num, maxDraws):
                if not drawn:          # not even with the least confidence: say so plainly
                    raise NeverDrawn(self.never_drawn(label if name is None else name, draws))
                accept = ("a lower --min-confidence" if self.truncation is None else
                          "a lower --min-confidence, or a higher --truncation, or none: the "
                          f"noise truncated at T = {self.truncation:g} draws less variety")
                raise TooFewAccepted(acceptance_message(accepted, draws, num, maxDraws, accept))
            z = latent.noise(BATCH, self.seed + draws, self.gen.ct1.in_channels, self.truncation)
            images = latent.generate(self.gen, z, self.device)
            _, probs = predict(self.model, images, self.device)
            drawn += int((probs.argmax(1) == label).sum())
            keep = (probs.argmax(1) == label) & (probs[:, label] >= minConfidence)
            kept.append(images[keep])
            noise.append(z[keep])
            accepted += int(keep.sum())
            draws += BATCH
        return (torch.cat(kept)[:num], torch.cat(noise)[:num],
                {"draws": draws, "acceptance_rate": accepted / draws})

    def never_drawn(self, name, draws):
        """The one sentence for a class the evaluator sees in none of `draws` samples."""
        noise = ("" if self.truncation is None else
                 f", their noise truncated at T = {self.truncation:g}")
        return (f"the generator does not draw a {name}: the evaluator calls none of {draws:,} "
                f"of its samples one{noise}")
