"""What the demo page does, without the page: a trained generator and what
can be asked of it (demo.py puts a Gradio page over it, page.py).

    grid      new samples for a seed; with the discriminator, the Langevin
              sampler as a switch (sampling/rejection.py)
    digit     "give me a 7": the evaluator's selection, as generate.py --digit
    morph     one sample into another along the spherical path, by a slider

A conditional generator (dcgan_mnist.py --conditional) is told the class:
the digits are drawn as asked at once (no evaluator, nothing rejected), the
grid shows one class per row, and the morph walks from one class to another
with the same noise (the one-hot code moved from one class to the other);
the Langevin sampler, which moves unconditional samples, is off for it.

What needs a part the file lacks is refused in words, never faked: the
Langevin sampler needs a checkpoint.pt's discriminator and the run's real
images; the digits need the evaluator, which is read from its cache and
trained only when asked (`train_evaluator`).

Every value comes as the page or its API sent it (a number, its text, null,
anything): each method checks its own and refuses one it cannot use with a
UserError that says what it expected, never Python's own words.
"""

import math
import os
import shutil

import numpy as np

import torch

from ..checkpoint import build_generator, load, trained_with
from ..cli import MAX_SEED, shown_number
from ..errors import UserError, shorten
from ..models import class_count, noise_dim
from ..noise import MIN_TRUNCATION
from ..models import describe as shape_of
from ..quality.evaluator import load_or_train
from ..quality.selection import (MIN_CONFIDENCE, DigitSelector, NeverDrawn, label_of,
                                 montage_rows, recorded_class_names)
from ..sampling import latent
from ..sampling.dataset import MAX_DOWNLOAD
from ..sampling.rejection import (LANGEVIN_STEP_SIZE, LANGEVIN_STEPS, TooFewAccepted, calibrate,
                                  latent_langevin)
from ..visualize import build_montage
from .parts import real_parts, zip_data_set

MORPH_STEPS = 24                  # frames from one end of the morph to the other
# the "fidelity <-> variety" slider: the truncation T of the noise, from
# MIN_SLIDER_T (faithful, alike) to NO_TRUNCATION, its right end, which is
# the untruncated noise (at T = 4 one component in 16,000 would be redrawn
# anyway, so the slider's last step is a small one; T = 3, the shipped
# generator's recommended T, redraws one in 370 and stays a step of its own)
MIN_SLIDER_T, NO_TRUNCATION = MIN_TRUNCATION, 4.0
MAX_GRID = 100
SHOWN = 224                       # pixels on a side a single image is enlarged to (28 -> 224)
MONTAGE_SHOWN = 448               # ... and a montage at least (8 x 8 of 28 -> 448)
ANY = "any"                       # a morph's end that is a plain sample of its seed
SEEDS = "an integer from 0 to 2**63 - 1"    # what seed_of takes: generate.py --seed's range
QUOTED = 40                       # characters of a refused value quoted back


def quoted(value):
    """A refused value as the message quotes it: short, on one line."""
    return shorten(repr(value), QUOTED)


def number_of(value, what, expected):
    """`value` (a number or its text) as an int or a finite float, or
    UserError: "{what} is empty" or "{what} must be {expected}"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{what} is empty: give {expected}")
    number = value
    if isinstance(value, str):
        number = None
        for convert in (int, float):
            try:
                number = convert(value) if len(value) <= QUOTED else None   # int() of 5,000 digits raises
                break
            except ValueError:
                pass
    if isinstance(number, bool) or not isinstance(number, (int, float)) \
            or (isinstance(number, float) and not math.isfinite(number)):
        raise UserError(f"{what} must be {expected}, got {quoted(value)}")
    return number


def whole_number(value, what, low, high, expected):
    """`value` as an int from `low` to `high`, or UserError saying `expected`."""
    number = number_of(value, what, expected)
    if not (low <= number <= high and (isinstance(number, int) or number.is_integer())):
        shown = f"{number:g}" if isinstance(number, float) else shorten(str(number), QUOTED)
        raise UserError(f"{what} must be {expected}, got {shown}")
    return int(number)


def seed_of(value):
    """A seed as the page or its API sent it, as generate.py --seed takes it."""
    return whole_number(value, "the seed", 0, MAX_SEED, SEEDS)


def next_seed(value):
    """The seed after `value` ("New samples"), back to 0 after the last."""
    return (seed_of(value) + 1) % (MAX_SEED + 1)


def count_of(value):
    """How many samples a montage shows: 1 to MAX_GRID."""
    return whole_number(value, "the number of samples", 1, MAX_GRID,
                        f"an integer from 1 to {MAX_GRID}")


def fraction_of(value, what, expected, ok):
    """`value` as a float for which ok(value), or UserError saying `expected`."""
    try:
        number = float(number_of(value, what, expected))
    except OverflowError:                # an integer too large for a float
        raise UserError(f"{what} must be {expected}, got {quoted(value)}") from None
    if not ok(number):
        raise UserError(f"{what} must be {expected}, got {shown_number(number)}")
    return number


def truncation_of(value):
    """The slider's value as the noise's truncation: None (untruncated) at
    its right end, NO_TRUNCATION, else T from MIN_SLIDER_T."""
    T = fraction_of(value, "the fidelity-variety slider",
                    f"a number from {MIN_SLIDER_T:g} to {NO_TRUNCATION:g} (no truncation)",
                    lambda v: MIN_SLIDER_T <= v <= NO_TRUNCATION)
    return None if T >= NO_TRUNCATION else T


def slider_value(truncation):
    """Where the slider stands for a truncation (None: its right end)."""
    return NO_TRUNCATION if truncation is None else min(max(truncation, MIN_SLIDER_T),
                                                        NO_TRUNCATION)


def switch_of(value, what):
    """A switch (a checkbox): True or False, nothing else."""
    if not isinstance(value, bool):
        raise UserError(f"{what} must be true or false, got {quoted(value)}")
    return value


def name_of(value, what):
    """A class name as text (or None when empty); UserError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > QUOTED:
        raise UserError(f"{what} must be the name of a class, got {quoted(value)}")
    return value


def to_rgb(montage):
    """build_montage's BGR (H, W, 3) uint8 -> the RGB a web page shows."""
    return np.ascontiguousarray(montage[:, :, ::-1])


def enlarged(images, side=SHOWN):
    """Samples (N, C, S, S) as one RGB montage enlarged (whole pixels, so
    crisp) to about `side` pixels on a side."""
    montage = to_rgb(build_montage(images))
    zoom = max(1, round(side / montage.shape[0]))
    return montage.repeat(zoom, axis=0).repeat(zoom, axis=1)


class Playground:
    """The generator of `path` (checkpoint.pt, generator.pth, an exported
    folder or a Hub id), on `device`, and what it can do; `real` names the
    real images (dataset, dataDir, invert) for the parts that need them,
    None: the run's. calibrationSteps: the Langevin sampler's discriminator
    training steps before Platt scaling (0: the checkpoint's as it is)."""

    def __init__(self, path, device="cpu", weights="auto", real=(None, None, None),
                 allowDownload=False, calibrationSteps=0, log=print):
        self.device, self.log, self.calibrationSteps = device, log, calibrationSteps
        saved = load(path)
        self.gen, self.description = build_generator(path, weights, device, loaded=saved)
        # the page names the file, not where it lies on this machine
        self.description = self.description.replace(os.fspath(path), os.path.basename(
            os.path.normpath(os.fspath(path))))
        self.numClasses = class_count(self.gen)         # None: unconditional
        # the truncation the file recommends (an exported folder's config.json)
        self.truncation = getattr(saved, "config", {}).get("truncation")
        self.inputDim = noise_dim(self.gen)             # the noise, without a class code
        self.shape = shape_of(self.gen.imageSize, self.gen.channels)
        self.split = self.classes = self.selector = self.logits = self.disc = None
        self.whyNoDigits = self.whyNoLangevin = None
        self.lastDataSet = None                         # the folder of the last zip made
        self.trained = trained_with(saved, path, self.gen).given(*real)
        if self.conditional:
            # it draws the class asked for: no evaluator, no real images needed
            self.classes = told_class_names(saved, self.numClasses)
            self.whyNoLangevin = ("this generator is told the class (--conditional), and the "
                                  "Langevin sampler moves unconditional samples by an "
                                  "unconditional discriminator's verdict")
            return
        parts = real_parts(path, saved, self.gen, self.trained, device, real, allowDownload)
        self.disc, self.split, self.classes, self.selector = \
            parts.disc, parts.split, parts.classes, parts.selector
        self.whyNoDigits, self.whyNoLangevin = parts.whyNoDigits, parts.whyNoLangevin

    @property
    def conditional(self):
        """Whether the generator is told the class (--conditional)."""
        return self.numClasses is not None

    # ------------------------------------------------------------ asked for

    def train_evaluator(self):
        """Train (or read) the evaluator for the digits; returns a line."""
        if self.conditional:            # the page hides the button; its API route does not
            raise UserError("no evaluator to train: this generator is told the class "
                            "(--conditional), so it draws the class asked for without one")
        if self.split is None or self.classes is None:
            raise UserError(self.whyNoDigits)
        model, accuracy, _ = load_or_train(self.split, self.trained.seed, self.device,
                                           log=self.log)
        self.selector, self.whyNoDigits = DigitSelector(self.gen, model, self.device, 0), None
        return f"the evaluator is ready: {accuracy:.1%} right on held-out real images"

    def grid(self, seed, num=64, langevin=False, truncation=NO_TRUNCATION):
        """An RGB montage of `num` samples from `seed` (Langevin-moved ones),
        their noise truncated by the slider's `truncation`."""
        seed, num, T = seed_of(seed), count_of(num), truncation_of(truncation)
        if switch_of(langevin, "the Langevin switch"):
            if self.whyNoLangevin:
                raise UserError(f"the Langevin sampler is off: {self.whyNoLangevin}")
            if T is not None:
                raise UserError("the Langevin sampler moves the noise itself: set the "
                                "fidelity-variety slider to its right end (no truncation) "
                                "to use it")
            if self.logits is None:
                self.logits = calibrate(self.disc, self.gen, self.split.heldOutImages,
                                        self.device, self.trained.seed, self.calibrationSteps,
                                        log=self.log)
            images, _ = latent_langevin(self.gen, self.logits, self.device, seed, num,
                                        LANGEVIN_STEPS, LANGEVIN_STEP_SIZE)
        else:
            images = latent.generate(self.gen, latent.noise(num, seed, self.inputDim, T),
                                     self.device, labels=self.row_classes(num))
        return enlarged(images, MONTAGE_SHOWN)

    def row_classes(self, num):
        """A conditional generator's classes (num,) for a montage of `num`:
        one class per row, in order (and again after the last); None for
        an unconditional one."""
        return montage_rows(num, self.numClasses) if self.conditional else None

    def label_of(self, name):
        if self.conditional:
            if name_of(name, "the class") is None:
                raise UserError(f"no class chosen: choose one of {', '.join(self.classes)}")
            if name not in self.classes:
                raise UserError(f"the class must be one of {', '.join(self.classes)}, "
                                f"got {quoted(name)}")
            return self.classes.index(name)
        if self.selector is None:
            raise UserError(f"choosing a class is off: {self.whyNoDigits}")
        if name_of(name, "the class") is None:
            raise UserError(f"no class chosen: choose one of {', '.join(self.classes)}")
        return label_of(name, self.classes)

    def digit(self, name, seed, num=16, minConfidence=MIN_CONFIDENCE, truncation=NO_TRUNCATION):
        """An RGB montage of `num` samples the evaluator calls `name`, and a
        line with the share of samples that were; their noise truncated by
        the slider's `truncation`."""
        seed, num, T = seed_of(seed), count_of(num), truncation_of(truncation)
        minConfidence = fraction_of(minConfidence, "the least probability",
                                    "a probability in (0, 1]", lambda p: 0 < p <= 1)
        if self.conditional:             # told the class: every sample is one, at once
            label = self.label_of(name)
            images = latent.generate(self.gen, latent.noise(num, seed, self.inputDim, T),
                                     self.device, labels=torch.full((num,), label))
            return enlarged(images, MONTAGE_SHOWN), (
                f"{num} samples drawn as a {name}: the generator is told the class, so none "
                "is rejected")
        images, _, numbers = self.sample_class(name, seed, num, minConfidence, T)
        return enlarged(images, MONTAGE_SHOWN), (
            f"{numbers['acceptance_rate']:.1%} of {numbers['draws']:,} samples are a {name} "
            f"with probability {minConfidence:g} or more")

    def end(self, seed, name, truncation=None):
        """A morph's end: the noise of seed `seed`, or (a class name) the
        first sample from there the evaluator calls `name` (empty: ANY)."""
        seed = seed_of(seed)
        if name_of(name, "a morph's class") in (None, ANY):
            return latent.noise(1, seed, self.inputDim, truncation)
        _, z, _ = self.sample_class(name, seed, 1, truncation=truncation,
                                    remedy=f"choose another seed or class for the {name} end")
        return z

    def sample_class(self, name, seed, num, minConfidence=MIN_CONFIDENCE, truncation=None,
                     remedy="lower the evaluator's least probability for it"):
        """The selector's (images, noise, numbers) for class `name` from
        `seed`; too rare a class is said in the page's words, `remedy` the
        control that helps (the sampler's own message names generate.py's
        options)."""
        label = self.label_of(name)
        self.selector.seed, self.selector.truncation = seed, truncation
        try:
            return self.selector.sample(label, num, minConfidence, name=name)
        except NeverDrawn:
            raise                    # one plain sentence: no slider can help
        except TooFewAccepted as e:
            said = str(e).split("; ")[0]
            raise UserError(f"too few samples are a {name} with probability {minConfidence:g} or "
                            f"more: {said}; {remedy}") from None

    def morph_path(self, seedA, seedB, nameA=ANY, nameB=ANY, truncation=NO_TRUNCATION):
        """(MORPH_STEPS + 1, C, S, S) images from one end to the other. For
        a conditional generator: from class nameA to nameB, the one-hot code
        moved along a line from one to the other, the noise along the
        spherical path from seedA's to seedB's (the same seed: the same
        noise throughout). truncation: the slider's, for both ends' noise."""
        T = truncation_of(truncation)
        if self.conditional:
            a, b = self.label_of(nameA), self.label_of(nameB)
            zA, zB = latent.noise(1, seed_of(seedA), self.inputDim, T), \
                latent.noise(1, seed_of(seedB), self.inputDim, T)
            t = torch.linspace(0, 1, MORPH_STEPS + 1)[:, None]                   # (T, 1)
            z = torch.cat([latent.slerp(zA.view(1, -1), zB.view(1, -1), s) for s in t])
            codes = latent.class_codes(a, b, self.numClasses, MORPH_STEPS)       # (T, K)
            return latent.generate(self.gen, z.view(len(z), -1, 1, 1), self.device,
                                   labels=codes)
        for name in (nameA, nameB):      # both ends' classes checked before either is sampled
            if name_of(name, "a morph's class") not in (None, ANY):
                self.label_of(name)
        return latent.morph(self.gen, self.end(seedA, nameA, T), self.end(seedB, nameB, T),
                            MORPH_STEPS, self.device)

    @staticmethod
    def frame(path, t):
        """The image of a morph path at t in [0, 1], RGB, enlarged."""
        t = fraction_of(t, "the morph's position", "a number from 0 to 1", lambda v: 0 <= v <= 1)
        index = round(t * (len(path) - 1))
        return enlarged(path[index:index + 1])

    def data_set(self, num, seed, truncation, folder):
        """A conditional generator's `num` digits (at most MAX_DOWNLOAD) as
        a zip (download.zip_data_set), from `seed`, the noise truncated by
        the slider's `truncation`, in a new folder inside `folder` (the
        demo's temporary folder). Returns the zip's path; the zip made
        before it is deleted (Gradio serves its own copy)."""
        if not self.conditional:
            raise UserError("a data set to download needs a conditional generator "
                            "(dcgan_mnist.py --conditional): this one's digits have no class")
        num = whole_number(num, "the number of digits", 1, MAX_DOWNLOAD,
                           f"an integer from 1 to {MAX_DOWNLOAD:,}")
        seed, T = seed_of(seed), truncation_of(truncation)
        path, made = zip_data_set(self.gen, self.classes, self.description, num, seed, T,
                                  self.device, folder)
        if self.lastDataSet:
            shutil.rmtree(self.lastDataSet, ignore_errors=True)
        self.lastDataSet = made
        return path

    def summary(self):
        """Lines saying what the page can do here."""
        if self.conditional:
            classes = (f"drawn as asked, the generator is told the class ({self.numClasses}: "
                       f"{', '.join(self.classes)})")
        else:
            classes = (f"off ({self.whyNoDigits})" if self.whyNoDigits
                       else f"classes {', '.join(self.classes)}")
        langevin = ([] if self.conditional else   # the page leaves it out, saying why
                    ["Langevin sampler: " + (f"off ({self.whyNoLangevin})" if self.whyNoLangevin
                                             else f"on ({self.calibrationSteps} calibration steps)")])
        truncation = ("untruncated noise" if self.truncation is None else
                      f"untruncated noise (the file recommends T = {shown_number(self.truncation)}, "
                      f"at or beyond the slider's right end, {NO_TRUNCATION:g})"
                      if self.truncation >= NO_TRUNCATION else
                      f"noise truncated at T = {self.truncation:g}, the file's recommended")
        return [f"{self.description}: {self.shape} images",
                *langevin, "fidelity ↔ variety: " + truncation, "digits: " + classes]


def told_class_names(saved, numClasses):
    """The names of a conditional generator's classes, as its file records
    them (selection.recorded_class_names); else the numbers 0..K-1."""
    return recorded_class_names(saved, numClasses) or [str(i) for i in range(numClasses)]
