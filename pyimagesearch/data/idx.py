"""MNIST's IDX files: reading them (no md5, no network), finding them in a
folder, flat (`DIR/train-images-idx3-ubyte[.gz]`, ...) or in torchvision's
layout (`DIR/MNIST/raw/...`)."""

import gzip
import os
import zlib

import numpy as np
import torch

from .imageset import IMAGE_SHAPE, DataError, ImageSet

# the datasets the script knows: name -> torchvision class name, which is
# also the folder torchvision downloads into (DIR/<name>/raw)
TORCHVISION_CLASSES = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST",
}
# the four IDX files of every MNIST-format dataset, by split
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}



def read_idx(path, ndim):
    """Read one IDX file of unsigned bytes (MNIST format) into a numpy array.

    `ndim` is what the file must hold: 3 for images (N, 28, 28), 1 for
    labels (N,). Every defect raises DataError naming the file.
    """
    name = os.fspath(path)
    try:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) or EOFError on truncation
        raise DataError(f"{name}: cannot read it ({e}); "
                        "delete it and download or copy it again") from None

    # header: 2 zero bytes, a type code (0x08 = unsigned byte), the number
    # of dimensions, then one big-endian uint32 per dimension
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DataError(f"{name}: IDX type code 0x{data[2]:02x} is not "
                        "0x08 (unsigned byte), so these are not MNIST images")
    if data[3] != ndim:
        raise DataError(f"{name}: holds {data[3]}-dimensional data, "
                        f"expected {ndim} ({'images' if ndim == 3 else 'labels'})")
    headerSize = 4 + 4 * ndim
    if len(data) < headerSize:
        raise DataError(f"{name}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
                  for i in range(ndim))
    expected = headerSize + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(f"{name}: wrong size: the header promises {shape} "
                        f"({expected:,} bytes) but the file has {len(data):,} "
                        "bytes (truncated or corrupt download?)")
    if ndim == 3 and shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{name}: images are {shape[1]}x{shape[2]}, "
                        "the models need 28x28")
    if shape[0] == 0:
        raise DataError(f"{name}: holds no {'images' if ndim == 3 else 'labels'} "
                        "(its header says 0)")
    return np.frombuffer(data, dtype=np.uint8, offset=headerSize).reshape(shape)


def _find_file(folders, base):
    for folder in folders:
        for candidate in (base, base + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.islink(path) and not os.path.exists(path):
                raise DataError(f"{path}: a symbolic link to nothing (its target is "
                                "missing, or the links form a loop)")
            if os.path.isfile(path):
                return path
    return None


def find_idx_files(dataDir, dataset):
    """The IDX files of `dataset` in `dataDir`: {split: (images, labels)}.

    Looks in the folder itself and in torchvision's `DIR/<Class>/raw`; a
    split counts only when both its files are there.
    """
    folders = [dataDir]
    if dataset in TORCHVISION_CLASSES:
        folders.append(os.path.join(dataDir, TORCHVISION_CLASSES[dataset], "raw"))
    found = {}
    for split, (imagesBase, labelsBase) in IDX_FILES.items():
        imagesPath = _find_file(folders, imagesBase)
        labelsPath = _find_file(folders, labelsBase)
        if imagesPath and labelsPath:
            found[split] = (imagesPath, labelsPath)
        elif imagesPath or labelsPath:
            have = imagesPath or labelsPath
            missing = labelsBase if imagesPath else imagesBase
            raise DataError(f"{have}: found, but its partner {missing}[.gz] "
                            f"is missing from {os.path.dirname(have)}")
    return found



def load_idx_folder(files, source, classes=None):
    """An ImageSet from the files `find_idx_files` returned (train first)."""
    images, labels, splits = [], [], {}
    for split in IDX_FILES:
        if split not in files:
            continue
        imagesPath, labelsPath = files[split]
        x = read_idx(imagesPath, ndim=3)
        y = read_idx(labelsPath, ndim=1)
        if len(x) != len(y):
            raise DataError(f"{labelsPath}: {len(y):,} labels for "
                            f"{len(x):,} images in {imagesPath}")
        if classes is not None and int(y.max()) >= len(classes):
            # the embedding of --conditional and the evaluator's classes
            # both trust the labels: a stray one is an error here, not later
            index = int(np.argmax(y >= len(classes)))
            raise DataError(f"{labelsPath}: label {int(y[index])} at index {index:,} is out of "
                            f"range (labels are 0 to {len(classes) - 1}); fix or replace the file")
        images.append(torch.from_numpy(x.copy()))
        labels.append(torch.from_numpy(y.astype(np.int64)))
        splits[split] = len(x)
    return ImageSet(images=torch.cat(images).unsqueeze(1),   # (N, 28, 28) -> (N, 1, 28, 28)
                    labels=torch.cat(labels), source=source, splits=splits, classes=classes)

