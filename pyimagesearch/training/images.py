"""The training images of a run: loaded in turn under torchrun (the first
process of each machine fetches them, the others then read what it left),
fingerprinted for --resume, and the embedded default's advice."""

import math

import torch

from ..data.imageset import DataError, fingerprint
from ..data.loader import DeviceLoader
from ..data.sources import load_dataset
from ..device import memory_format
from ..errors import printable, shorten, warn
from ..quality.selection import montage_rows
from . import distributed

# for the embedded default's advice: the article's run (all of MNIST, 20
# epochs of batches of 128), and the speed of the script on 2 CPU cores
# (docs/speed.md: 720-810 images/s on the machines here)
ARTICLE_IMAGES, ARTICLE_EPOCHS, ARTICLE_BATCH = 70_000, 20, 128
CPU_IMAGES_PER_SECOND = 750
MONTAGE_ROW = 16                    # images a row of the article's 16 x 16 montage


def load_in_turn(ctx, dataset, dataDir, allowDownload, fakeSize, seed, invert, size=28,
                 channels=1):
    """load_dataset's ImageSet in every process of `ctx`, at `size` and
    `channels`; only the first process prints what happened."""
    quiet = dict(log=lambda line: None, warn=lambda lines: None)
    for turn in ("first", "others"):
        if (turn == "first") == ctx.local_main:
            imageSet = load_dataset(dataset, dataDir, allowDownload=allowDownload and ctx.local_main,
                                    fakeSize=fakeSize, seed=seed, invert=invert, size=size,
                                    channels=channels, **({} if ctx.main else quiet))
        distributed.barrier(ctx)
    return imageSet


def load_training_images(ctx, dataset, dataDir, allowDownload, limit, seed, invert, size=28,
                         channels=1):
    """(every image of the data set, the first --limit of them that the
    GAN trains on, their fingerprint), in every process of `ctx`, at
    --image-size and --channels."""
    fullData = load_in_turn(ctx, dataset, dataDir, allowDownload, limit or 1000, seed, invert,
                            size, channels)
    data = fullData.head(limit)
    print(f"[INFO] {len(data):,} training images from {data.source}")
    return fullData, data, fingerprint(data)


def training_images(ctx, args, dataDir, resume=None):
    """load_training_images' three for the run's arguments `args` (a dict)
    from `dataDir`: with `resume` (a resume.Resume), checked to be the
    checkpoint's images; the embedded default's advice said otherwise."""
    fullData, data, sha256 = load_training_images(
        ctx, args["dataset"], dataDir, not args["no_download"], args["limit"], args["seed"],
        args["invert"], args["image_size"], args["channels"])
    if resume:
        resume.check_images(sha256, data)
    elif data.fallback and ctx.main:
        advise_on_embedded_default(len(data), args["batch_size"] * ctx.worldSize, args["epochs"])
    return fullData, data, sha256


def device_loader(data, transform, batchSize, device, shuffle, ctx, args):
    """The run's batches: shuffled by the `shuffle` stream (each class in
    its share of every batch with --balanced-batches), cut on `device` in
    its fastest layout, this process's share under torchrun."""
    return DeviceLoader(data, batchSize, device, transform, generator=shuffle,
                        shard=(ctx.rank, ctx.worldSize), memoryFormat=memory_format(device),
                        balanced=args.get("balanced_batches", False))


def embedded_default_advice(numImages, batchSize, epochs):
    """What to expect from the embedded default, and what to do about it:
    the updates this run makes against the article's, and the --epochs
    that makes as many (with its time on 2 CPU cores, docs/embedded.md)."""
    steps = math.ceil(numImages / batchSize)
    updates = steps * epochs
    articleUpdates = math.ceil(ARTICLE_IMAGES / ARTICLE_BATCH) * ARTICLE_EPOCHS
    matching = math.ceil(articleUpdates / steps)
    minutes = matching * numImages / CPU_IMAGES_PER_SECOND / 60
    return [f"What to expect: {epochs} epochs of {numImages:,} digits make {updates:,} updates of the",
            f"networks; the article's {ARTICLE_EPOCHS} epochs of {ARTICLE_IMAGES:,} make "
            f"{articleUpdates:,}. Expect",
            "blurred, partly unreadable digits from this run (docs/embedded.md shows both).",
            f"As many updates as the article: --epochs {matching} (about {minutes:.0f} minutes on 2 CPU",
            "cores, a few minutes on a GPU), or give it the full MNIST with --data-dir."]


def advise_on_embedded_default(numImages, batchSize, epochs):
    warn(embedded_default_advice(numImages, batchSize, epochs))


def classes_to_tell(data, conditional, main=True):
    """How many classes the networks are told: with --conditional those of
    `data` (an ImageSet), DataError when it has none; else None. A warning
    (from the first process) when the images hold only some of them (e.g.
    a --limit of a file sorted by class): the montage's rows of the others
    show what the generator makes of a class it was never shown."""
    if not conditional:
        return None
    if not data.classes:
        raise DataError(f"--conditional needs images with classes, and {data.source} has none "
                        "(a folder of images without class subfolders): put each class in a "
                        "subfolder of its own, or train without --conditional")
    held = torch.bincount(data.labels.long(), minlength=len(data.classes)) > 0
    if main and not held.all():
        missing = [printable(c) for c, h in zip(data.classes, held.tolist()) if not h]
        warn([f"the {len(data):,} training images hold {int(held.sum())} of the "
              f"{len(data.classes)} classes (none of {shorten(', '.join(missing), 80)}):",
              "the generator is told classes it never sees (a --limit of a file sorted by "
              "class?); train on images of every class"])
    return len(data.classes)


def montage_classes(count, numClasses, device, perRow=MONTAGE_ROW):
    """The classes of the montage's `count` images (None without classes):
    one class a row of `perRow`, in order, starting again after the last
    (10 classes in 16 rows: 0 to 9, then 0 to 5)."""
    if not numClasses:
        return None
    return montage_rows(count, numClasses, perRow).to(device)
