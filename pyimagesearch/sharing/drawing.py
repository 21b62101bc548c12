"""What generate.py can do with a trained generator, one function a mode
(generate.py checks the options and calls them in order):

    load_generator     the file (the shipped generator by default), said in lines
    export_generator   --export: the folder for sharing (export.py)
    Drawer.montage     the montage: any digits, the discriminator's
                       (--rejection, --langevin), one class (--digit), or a
                       conditional generator's told one class a row
    Drawer.morph       --morph: the walk from one class to another, as a GIF
    write_individual   --individual: one PNG a digit
    Drawer.walk        --interpolate: the latent walk of every cell, as a GIF

A conditional generator (dcgan_mnist.py --conditional) is told the class
instead of being filtered: no evaluator, no data (docs/conditional.md)."""

import os
import re
from dataclasses import dataclass

import torch

from .. import visualize
from ..checkpoint import build_discriminator, build_generator, load, trained_with
from ..data import load_training_data
from ..device import describe as describe_device
from ..errors import UserError
from ..exported import shipped_generator
from ..files import replaced, replaced_in, write_image
from ..models import class_count, noise_dim
from ..models import describe as shape_of
from ..noise import MAX_TRUNCATION
from ..quality.evaluator import load_or_train, split_real
from ..quality.selection import (MIN_CONFIDENCE, DigitSelector, class_label, label_of,
                                 montage_rows, recorded_class_names)
from ..sampling import latent
from ..sampling.options import truncation_said
from ..sampling.rejection import better_samples
from . import export

MAX_NUM = 10_000          # a 100x100 montage, 2800x2800 pixels
MAX_WALK_IMAGES = 100_000   # digits drawn for --interpolate: frames x cells
MAX_STEPS = 250           # --steps: --morph's GIF has 8 x 250 frames there and back
DEFAULT_NUM = 64          # an 8x8 montage
MAX_ROWS_BY_CLASS = 16     # a conditional generator's default montage: K x K up to 16 classes
DIGIT_FILE = re.compile(r"digit_[0-9]{4,}(_class_[0-9]+)?\.png")    # --individual's files


def default_num(numClasses):
    """--num when not given: 64; a conditional generator's a square of one
    row per class (K x K) when it has at most MAX_ROWS_BY_CLASS classes."""
    if numClasses and numClasses <= MAX_ROWS_BY_CLASS:
        return numClasses * numClasses
    return DEFAULT_NUM


def morph_gif(output, morph):
    """--morph's GIF: OUTPUT-morph-A-B.gif, beside the montage."""
    return f"{output[:-4]}-morph-{morph[0]}-{morph[1]}.gif"


def digit_files(num, cellClasses):
    """--individual's file names: digit_0000.png, ... (a conditional
    generator's digit_0000_class_7.png, its class number)."""
    return [f"digit_{i:04d}" + ("" if cellClasses is None else f"_class_{int(cellClasses[i])}")
            + ".png" for i in range(num)]


def refused_sampler(option, numClasses):
    """Why --rejection and --langevin refuse a conditional generator."""
    return (f"{option} works with an unconditional generator only: its calibration and "
            "its verdicts ask the discriminator about samples without their class, and this "
            f"generator is conditional ({numClasses} classes); draw one class with --digit "
            "instead")


def told_classes(digit, num, names, cellClasses):
    """The line saying how a conditional generator drew the montage."""
    if digit:
        return (f"drew {num} of class {names[int(cellClasses[0])]} by telling the conditional "
                "generator the class (no evaluator, no rejection)")
    rows = montage_rows(num, len(names)).unique_consecutive()
    shown = ", ".join(names[c] for c in rows[:12]) + (", ..." if len(rows) > 12 else "")
    return (f"the conditional generator told one class a row, from the top: {shown}")


@dataclass
class Loaded:
    """A generator read from `path` (`saved`: the file as load gave it)."""
    path: str
    saved: object
    gen: torch.nn.Module
    description: str

    @property
    def numClasses(self):
        """--conditional's generators: their classes; None: the article's."""
        return class_count(self.gen)

    @property
    def recipe(self):
        return self.saved.get("run", {}).get("recipe") if isinstance(self.saved, dict) else None

    @property
    def recommended(self):
        """An exported folder's recommended truncation, or None."""
        return getattr(self.saved, "config", {}).get("truncation")


def load_generator(path, weights, device):
    """The generator of `path` (None: the shipped one, said in a line) on
    `device`; `weights`: --weights."""
    if path is None:
        path, line = shipped_generator()
        print(f"[INFO] {line}")
    saved = load(path)
    gen, description = build_generator(path, weights, device, loaded=saved)
    return Loaded(path, saved, gen, description)


def discriminator_of(loaded, option, device):
    """--rejection's and --langevin's discriminator (`option`: which): a file
    without one says so first (the shipped generators among them); a
    conditional generator is refused."""
    disc = build_discriminator(loaded.path, loaded.saved, device)
    if loaded.numClasses:
        raise UserError(refused_sampler(option, loaded.numClasses))
    return disc


def say_generator(loaded, device, truncation, sampler=False):
    """The lines that say what draws: the generator, its recipe, and an
    exported folder's recommended truncation, taken when none was given
    (not with a sampler of the discriminator). Returns the truncation."""
    gen = loaded.gen
    print(f"[INFO] {loaded.description} ({shape_of(gen.imageSize, gen.channels)} images), "
          f"on {describe_device(device)}")
    if loaded.recipe:
        print(f"[INFO] trained with the recipe: {loaded.recipe}")
    recommended = loaded.recommended
    if truncation is None and recommended and not sampler:
        truncation = recommended          # an exported folder's, as the demo's default
        print(f"[INFO] the folder recommends --truncation {recommended:g} (its README.md: "
              f"fidelity or variety); --truncation {MAX_TRUNCATION:g} draws untruncated")
    return truncation


def export_generator(folder, loaded, truncation):
    """--export: the folder written whole (sharing/export.py), and a line."""
    done = export.export(folder, loaded.gen,
                         export.describe_export(loaded.saved, loaded.path, loaded.gen,
                                                loaded.description, truncation))
    sizes = ", ".join(f"{name} ({size / 1024:,.0f} KiB)" for name, size in done["bytes"].items())
    print(f"[INFO] exported the generator to {folder}: {sizes}; ONNX matches PyTorch "
          f"to {done['onnx_difference']:.1e}")


@dataclass
class RealImages:
    """Where the real images are, for the discriminator's samplers and the
    evaluator: generate.py's --dataset, --data-dir, --invert, --no-download."""
    dataset: str = None
    dataDir: str = None
    invert: bool = None
    allowDownload: bool = True


class Drawer:
    """What the montage, --morph and --interpolate draw from `loaded` on
    `device`: `num` digits from noise seed `seed`, truncated at `truncation`
    (or not: None); `digit` the class of all (--digit), `morph` the two
    classes of the walk; `disc` and `sampler` (SamplerSettings) for
    --rejection and --langevin; `real` where the real images are."""

    def __init__(self, loaded, device, num, seed, truncation=None, digit=None, morph=None,
                 minConfidence=MIN_CONFIDENCE, disc=None, sampler=None, real=None):
        self.loaded, self.gen, self.device = loaded, loaded.gen, device
        self.num, self.seed, self.truncation = num, seed, truncation
        self.digit, self.morphNames, self.minConfidence = digit, morph, minConfidence
        self.disc, self.sampler = disc, sampler
        self.numClasses, self.noiseDim = loaded.numClasses, noise_dim(self.gen)  # 100: the article's
        self.cellClasses, real = None, real or RealImages()
        asked = ([digit] if digit else []) + (morph or [])
        if self.numClasses:
            # told the class: the classes asked for are read, nothing else
            names = recorded_class_names(loaded.saved, self.numClasses)
            self.asked = [class_label(name, names, self.numClasses) for name in asked]
            self.names = names or [str(c) for c in range(self.numClasses)]
        if disc is not None or (asked and not self.numClasses):
            trained = trained_with(loaded.saved, loaded.path, self.gen).given(
                real.dataset, real.dataDir, real.invert)
            imageSet, _ = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                             allowDownload=real.allowDownload,
                                             size=self.gen.imageSize, channels=self.gen.channels,
                                             named=real.dataDir is not None)
            self.split = split_real(imageSet, trained.seed)
        if asked and not self.numClasses:
            if imageSet.classes is None:
                raise UserError(f"--digit and --morph need classes: {imageSet.source} has no "
                                "class subfolders")
            self.labels = [label_of(name, imageSet.classes) for name in asked]
            model, _, _ = load_or_train(self.split, trained.seed, device)
            self.selector = DigitSelector(self.gen, model, device, seed, truncation)

    def noise(self, num):
        return latent.noise(num, self.seed, self.noiseDim, self.truncation)

    def montage(self):
        """The montage's `num` digits (num, C, S, S): all from --seed, or
        only those kept; a conditional generator's told the class of each
        cell (`cellClasses`). Each way said in a line."""
        T = self.truncation
        if T is not None:
            print(f"[INFO] the noise {truncation_said(T)}"
                  + (f": every component within [-{T:g}, {T:g}]" if T < MAX_TRUNCATION else ""))
        if self.numClasses:
            self.cellClasses = (torch.full((self.num,), self.asked[0]) if self.digit
                                else montage_rows(self.num, self.numClasses))      # (num,)
            images = latent.generate(self.gen, self.noise(self.num), self.device,
                                     self.cellClasses)
            print(f"[INFO] {told_classes(self.digit, self.num, self.names, self.cellClasses)}")
        elif self.disc is not None:
            images, _, what = better_samples(self.sampler, self.gen, self.disc,
                                             self.split.heldOutImages, self.device, self.seed,
                                             self.num)
            print(f"[INFO] {what}")
        elif self.digit:
            images = self.digit_montage()
        else:
            images = latent.generate(self.gen, self.noise(self.num), self.device)
        return images

    def digit_montage(self):
        """--digit of an unconditional generator: the evaluator's selection."""
        images, _, numbers = self.selector.sample(self.labels[0], self.num, self.minConfidence,
                                                  name=self.digit)
        print(f"[INFO] {numbers['acceptance_rate']:.1%} of {numbers['draws']:,} samples are a "
              f"{self.digit} with probability {self.minConfidence:g} or more")
        return images

    def morph(self, steps):
        """--morph's walk, 4 x steps + 1 images (frames, C, S, S)."""
        if self.numClasses:
            a, b = self.asked[-2:]
            if a == b:                   # one class, between two noise vectors
                z = self.noise(2)
                return latent.morph(self.gen, z[:1], z[1:], 4 * steps, self.device, label=a)
            # the same noise, from A's code to B's
            return latent.class_morph(self.gen, self.noise(1), a, b, self.numClasses,
                                      4 * steps, self.device)
        a, b = self.labels[-2:]
        if a == b:                       # two different samples of one class
            _, z, _ = self.selector.sample(a, 2, self.minConfidence, name=self.morphNames[0])
            zA, zB = z[:1], z[1:]
        else:
            (_, zA, _), (_, zB, _) = (self.selector.sample(label, 1, self.minConfidence,
                                                           name=name)
                                      for label, name in zip((a, b), self.morphNames))
        return latent.morph(self.gen, zA, zB, 4 * steps, self.device)      # (frames, C, S, S)

    def write_morph(self, path, walk):
        """--morph's GIF, there and back, enlarged to 112 pixels at 28; a line."""
        said = replaced(path)
        frames = [visualize.build_montage(frame[None]) for frame in walk]
        zoom = max(1, 112 // self.gen.imageSize)                           # 112x112 at 28
        frames = [f.repeat(zoom, axis=0).repeat(zoom, axis=1) for f in frames]
        visualize.write_digit_gif(path, frames + frames[-2:0:-1], duration=60)   # and back
        how = (" (the same noise, the class code moving from one to the other)"
               if self.numClasses and self.asked[-2] != self.asked[-1] else "")
        print(f"[INFO] wrote a {len(walk)}-frame walk from a {self.morphNames[0]} to a "
              f"{self.morphNames[1]}, and back, to {path}{how}{said}")

    def walk(self, path, keyframes, steps):
        """--interpolate: every cell's latent walk through `keyframes`
        random points, `steps` frames between two, as a GIF; a line. A
        conditional generator's cells keep their classes."""
        walk = latent.latent_walk(self.num, keyframes, steps, self.seed, self.noiseDim,
                                  self.truncation)
        frames = [visualize.build_montage(latent.generate(self.gen, z, self.device,
                                                          self.cellClasses))
                  for z in walk]                 # (frames) x (H, W, 3) uint8; classes kept
        said = replaced(path)
        visualize.write_digit_gif(path, frames, duration=80)
        print(f"[INFO] wrote a {len(frames)}-frame latent walk to {path}{said}")


def write_montage(path, images):
    """The montage of `images` (N, C, S, S) to `path`, and a line."""
    said = replaced(path)
    write_image(path, visualize.build_montage(images))
    print(f"[INFO] wrote {len(images)} digits to {path}{said}")


def individual_files(folder, num, cellClasses):
    """--individual's file names, checked before the first write: a folder
    in the way of one is said in a line."""
    names = digit_files(num, cellClasses)
    for name in names:
        if os.path.isdir(os.path.join(folder, name)):
            raise UserError(f"--individual: {os.path.join(folder, name)} is a folder; move "
                            "it, or choose another folder")
    return names


def write_individual(folder, names, images):
    """--individual: each of `images` as folder/names[i] (the earlier run's
    digit_*.png replaced, said), and a line."""
    said = replaced_in(folder, names, DIGIT_FILE, "digit_*.png")
    os.makedirs(folder, exist_ok=True)
    for name, image in zip(names, visualize.to_uint8_images(images)):
        write_image(os.path.join(folder, name), image[:, :, 0] if images.shape[1] == 1 else image)
    print(f"[INFO] wrote {len(images)} single digits to {folder}{said}")
