"""Training recipes that keep the article's networks: separate learning
rates for D and G (TTUR, Heusel et al. 2017), balanced consistency
regularisation of D (bCR, Zhao et al. 2021), top-k generator updates
(Sinha et al. 2020) and differentiable augmentation (DiffAugment, Zhao et
al. 2020). Each changes only how the article's G and D are trained: their
layers, parameters and state_dict keys stay the article's, so everything
downstream works unchanged. All are off by default, and then every method
here hands back what it was given: the article's steps, bit for bit.

The script calls them at four marked places of its batch loop:

    output = disc(recipe.augment(torch.cat((images, fake.detach())))).view(-1)
    errorD = recipe.regularise(errorReal + errorFake, disc, images, fake.detach())
    output = disc(recipe.augment(fake)).view(-1)
    errorG = criterion(*recipe.top_k(output, labels))

and builds its Adams with `lr=recipe.lrG` / `lr=recipe.lrD`.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F

from ..models import discriminator_logits, watch_logits

ARTICLE_LR = 0.0002
DIFFAUG_POLICIES = ("translation", "colour", "cutout")
TRANSLATION_RATIO = 0.125      # DiffAugment's: up to 1/8 of the side (3 px at 28)
CUTOUT_RATIO = 0.5             # DiffAugment's: a square of half the side


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How G and D are trained. lrD, lrG: Adam's learning rates; cr: bCR's
    lambda on real and fake images (0 off) with translations of up to
    crShift pixels; topK: the fraction of the fake batch G learns from at
    the last epoch (1 off), annealed linearly from the whole batch at the
    first; diffAug: DiffAugment's policies, applied to every image D sees."""
    lrD: float = ARTICLE_LR
    lrG: float = ARTICLE_LR
    cr: float = 0.0
    crShift: int = 1
    topK: float = 1.0
    diffAug: tuple = ()

    @property
    def is_article(self):
        return self == Recipe()

    @property
    def random(self):
        """Whether the recipe draws random numbers (its own stream)."""
        return bool(self.cr or self.diffAug)

    def describe(self):
        """The recipe in words, e.g. 'lr D 0.0002 / G 0.0002, ...'."""
        if self.is_article:
            return "the article's (one learning rate 0.0002, BCE, no augmentation)"
        said = [f"lr D {self.lrD:g} / G {self.lrG:g}"]
        if self.cr:
            said.append(f"balanced CR lambda {self.cr:g} (shifts up to {self.crShift} px)")
        if self.topK < 1:
            said.append(f"top-k G updates down to {self.topK:.0%} of the batch")
        if self.diffAug:
            said.append(f"DiffAugment {','.join(self.diffAug)}")
        return ", ".join(said)


class RecipeInTraining:
    """A Recipe at work in one run: it knows the epoch (top-k's schedule)
    and draws its random numbers from `generator` (saved for --resume)."""

    def __init__(self, recipe, numEpochs, generator=None):
        self.recipe, self.numEpochs, self.generator = recipe, numEpochs, generator
        self.lrD, self.lrG = recipe.lrD, recipe.lrG
        self.epoch = 0
        self.lastLogits = None

    def watch(self, disc):
        """With --cr and no --diffaug: keep the logits of D's last pass, so
        that the consistency term reuses those of the step's main pass (the
        real and fake images as they are) instead of computing them again."""
        if self.recipe.cr and not self.recipe.diffAug:
            watch_logits(disc, self._keep)

    def _keep(self, logits):
        self.lastLogits = logits.view(-1)

    def start_epoch(self, epoch):
        self.epoch = epoch

    # -------------------------------------------------------- the four calls

    def augment(self, images):
        """DiffAugment of a batch D is about to see (the images as they are
        when off)."""
        if not self.recipe.diffAug:
            return images
        return diff_augment(images, self.recipe.diffAug, self.generator)

    def regularise(self, errorD, disc, images, fake, classes=None):
        """errorD plus bCR's lambda * mean squared difference of D's logits
        on each real and fake image and on a shifted copy (errorD itself
        when off). classes (--conditional): those of the real images, then
        the fakes'; a shifted image keeps its class."""
        if not self.recipe.cr:
            return errorD
        both = torch.cat((images, fake))
        moved = translate(both, self.recipe.crShift, self.generator, fill=-1.0)   # black ground
        seen, self.lastLogits = self.lastLogits, None
        reuse = seen if seen is not None and len(seen) == len(both) else None
        return errorD + self.recipe.cr * consistency(disc, both, moved, len(images), reuse,
                                                     classes)

    def top_k(self, output, labels):
        """(D's verdicts on the k most realistic fakes, their labels): the
        ones G learns from (all of them when off)."""
        k = top_k_count(len(output), self.recipe.topK, self.epoch, self.numEpochs)
        if k == len(output):
            return output, labels
        kept = output.topk(k).indices
        return output[kept], labels[kept]


def top_k_count(batch, fraction, epoch, numEpochs):
    """How many fakes G learns from at `epoch` (0-based) of `numEpochs`: the
    whole batch at the first epoch, down linearly to `fraction` of it at
    the last (at least one)."""
    if fraction >= 1:
        return batch
    progress = epoch / max(1, numEpochs - 1)
    return max(1, math.ceil(batch * (1 - (1 - fraction) * progress)))


def translate(images, maxShift, generator, fill):
    """Each image moved by its own random whole-pixel offset in
    [-maxShift, maxShift] on both axes, `fill` filling the space left."""
    if maxShift < 1:
        return images
    n, _, h, w = images.shape
    offsets = torch.randint(-maxShift, maxShift + 1, (2, n), generator=generator,
                            device=generator.device).to(images.device)
    padded = F.pad(images, (maxShift,) * 4, value=fill)        # (n, c, h + 2m, w + 2m)
    rows = torch.arange(h, device=images.device)[None, :] + maxShift - offsets[0][:, None]
    cols = torch.arange(w, device=images.device)[None, :] + maxShift - offsets[1][:, None]
    index = torch.arange(n, device=images.device)[:, None, None]
    moved = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]   # (n, h, w, c)
    return moved.permute(0, 3, 1, 2)


def consistency(disc, images, moved, numReal, imageLogits=None, classes=None):
    """bCR's term: the mean over the first numReal (real) images of
    (D~(x) - D~(T(x)))^2 plus the same mean over the others (the fakes),
    `moved` being T(x), the images augmented; imageLogits: D~(x) when
    already computed (with its graph); classes: those a conditional D is
    told, each image's and its moved copy's the same."""
    if imageLogits is None:
        twice = None if classes is None else torch.cat((classes, classes))
        both = discriminator_logits(disc, torch.cat((images, moved)), twice)   # one pass, 2 x the batch
        imageLogits, movedLogits = both[:len(images)], both[len(images):]
    else:
        movedLogits = discriminator_logits(disc, moved, classes)
    diff = (imageLogits - movedLogits) ** 2
    return diff[:numReal].mean() + diff[numReal:].mean()


def diff_augment(images, policies, generator):
    """DiffAugment (Zhao et al. 2020) of images in [-1, 1], differentiable:
    'translation' (up to 1/8 of the side, zeros = grey filling in, as the
    reference code), 'colour' (brightness, saturation, contrast), 'cutout'
    (a square of half the side set to 0)."""
    device = images.device
    n = len(images)

    def uniform(*shape):
        return torch.rand(*shape, generator=generator, device=generator.device).to(device)

    x = images
    for policy in policies:
        if policy == "colour":
            x = x + (uniform(n, 1, 1, 1) - 0.5)
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (uniform(n, 1, 1, 1) * 2) + mean
            mean = x.mean(dim=[1, 2, 3], keepdim=True)
            x = (x - mean) * (uniform(n, 1, 1, 1) + 0.5) + mean
        elif policy == "translation":
            x = translate(x, int(x.shape[-1] * TRANSLATION_RATIO + 0.5), generator, fill=0.0)
        elif policy == "cutout":
            side = x.shape[-1]
            size = int(side * CUTOUT_RATIO + 0.5)
            corner = (uniform(2, n) * (side + 1 - size % 2)).long()
            rows = torch.arange(side, device=device)[None, :]
            inRows = ((rows >= corner[0][:, None] - size // 2) & (rows < corner[0][:, None] - size // 2 + size))
            inCols = ((rows >= corner[1][:, None] - size // 2) & (rows < corner[1][:, None] - size // 2 + size))
            mask = (inRows[:, :, None] & inCols[:, None, :])[:, None]
            x = x * (~mask)
        else:
            raise ValueError(f"DiffAugment policy {policy!r}: one of {', '.join(DIFFAUG_POLICIES)}")
    return x.contiguous()


# --recipe: the article's, and the combination measured best (docs/recipes.md)
PRESETS = {
    "article": Recipe(),
    "better": Recipe(cr=1.0, crShift=1),
}


def recipe_of(args):
    """The Recipe of a run's arguments: --recipe's preset, then each of
    --lr-d, --lr-g, --cr, --cr-shift, --top-k, --diffaug given instead."""
    preset = PRESETS[args.get("recipe") or "article"]
    changes = {"lrD": args.get("lr_d"), "lrG": args.get("lr_g"), "cr": args.get("cr"),
               "crShift": args.get("cr_shift"), "topK": args.get("top_k"),
               "diffAug": None if args.get("diffaug") is None else parse_policies(args["diffaug"])}
    return dataclasses.replace(preset, **{k: v for k, v in changes.items() if v is not None})


def parse_policies(text):
    """'translation,colour' -> ('translation', 'colour'); '' or 'none' -> ();
    ValueError naming an unknown policy."""
    names = tuple(p.strip() for p in text.split(",") if p.strip() and p.strip() != "none")
    unknown = [p for p in names if p not in DIFFAUG_POLICIES]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is no DiffAugment policy; choose from "
                         f"{', '.join(DIFFAUG_POLICIES)} (or none)")
    return names
