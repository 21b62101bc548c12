"""A generator's samples as a data set another program reads back
(generate.py --write-dataset, the demo's download, evaluate.py --cas's
training digits): the same digits for the same generator, seed and
truncation, whatever the container.

The samples: `num` noise vectors of the seed (latent.noise, truncated at T
when asked), sample i drawn as class i mod K by a conditional generator of
K classes, so that the classes take turns (the first n of them are as
balanced as n allows, and --limit keeps every class) and each class has
num // K digits, the first num mod K classes one more. Sample i's file is
named by i: the noise row it came from.

Two containers, written whole or not at all:

    folder   DIR/<class>/000000.png ... (torchvision's ImageFolder layout,
             `dcgan_mnist.py --dataset folder` reads it), DIR/manifest.json;
             an unconditional generator's samples have no class: one flat
             folder, DIR/000000.png ..., which --dataset folder reads as one
             unlabelled class (ImageFolder needs class subfolders)
    idx      MNIST's four IDX files (`dcgan_mnist.py --data-dir DIR` reads
             them as MNIST): the train split holds the `num` samples; the
             t10k split a further num // 6 (MNIST's 60,000 : 10,000, at
             least one of each class) drawn after them from the same noise
             stream, never in the train split: the test split an evaluator
             holds out (evaluator.split_real) is digits it never trained on
"""

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np
import torch

from ..errors import UserError, printable
from ..files import WriteError, name_problem, write_bytes
from ..models import class_count, noise_dim
from ..noise import MAX_TRUNCATION, truncate_
from . import latent

MAX_DATASET = 100_000        # generate.py --write-dataset --num: digits at most
MAX_DOWNLOAD = 10_000        # the demo's download: digits at most
FORMATS = ("folder", "idx")
MANIFEST = "manifest.json"
TEST_SHARE = 6               # idx: a t10k split of num // TEST_SHARE, as MNIST's 60,000 : 10,000
LONGEST_CLASS_NAME = 100     # a class folder's name, in characters
IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def weights_sha256(gen):
    """The SHA-256 of a generator's weights: each tensor of its state_dict,
    in the order of their names, as its name, dtype, shape and bytes. The
    same weights give the same hash from a checkpoint.pt, a generator.pth
    or an exported folder."""
    digest = hashlib.sha256()
    for name, tensor in sorted(gen.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16
                      else tensor.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def sample_classes(num, numClasses):
    """The class each of `num` samples is drawn as (num,): i mod K; None
    for an unconditional generator."""
    return None if not numClasses else torch.arange(num) % numClasses


def class_counts(num, numClasses):
    """How many samples of each class (a list by label)."""
    return [num // numClasses + (label < num % numClasses) for label in range(numClasses)]


def noise_after(num, extra, seed, dim, truncation=None):
    """The noise of samples num .. num + extra - 1 of the seed: drawn from
    the seed's stream after latent.noise(num, seed, ...) drew its own, so
    that the first `num` stay latent.noise's whatever `extra` is."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(num, dim, 1, 1, generator=g)         # as latent.noise draws them
    if truncation is not None:
        truncate_(z, truncation, g)
    z = torch.randn(extra, dim, 1, 1, generator=g)
    if truncation is not None:
        truncate_(z, truncation, g)
    return z


def draw(gen, num, seed, truncation, device, after=None):
    """(uint8 images (num, C, S, S), labels (num,) or None): the seed's
    samples 0 .. num - 1 (after=M: the `num` that follow the first M,
    noise_after), the images as a PNG holds them (the article's
    x * 127.5 + 127.5, truncated)."""
    dim = noise_dim(gen)
    z = (latent.noise(num, seed, dim, truncation) if after is None
         else noise_after(after, num, seed, dim, truncation))                # (num, dim, 1, 1)
    labels = sample_classes((after or 0) + num, class_count(gen))
    labels = None if labels is None else labels[after or 0:]
    images = latent.generate(gen, z, device, labels)                      # (num, C, S, S) in [-1, 1]
    return images.mul(127.5).add(127.5).to(torch.uint8), labels


def folder_names(names):
    """The class folders' names, by label: the class names as they are
    where each can name a folder and their sorted order is the labels'
    (ImageFolder and --dataset folder number the folders in sorted
    order); else "07-name" (a label of as many digits as the last one's,
    then the name made safe), which sorts in the labels' order."""
    def safe(name):
        return (isinstance(name, str) and 0 < len(name) <= LONGEST_CLASS_NAME
                and not name.startswith(".") and "/" not in name and os.sep not in name
                and "\0" not in name and printable(name) == name)
    if all(safe(n) for n in names) and sorted(names) == list(names) \
            and len(set(names)) == len(names):
        return list(names)
    width = len(str(len(names) - 1))
    cleaned = ["".join(c if c.isalnum() or c in "-_ " else "_" for c in str(n))[:LONGEST_CLASS_NAME]
               .strip() for n in names]
    return [f"{label:0{width}d}" + (f"-{name}" if name else "") for label, name in enumerate(cleaned)]


def encode_png(image):
    """A (C, S, S) uint8 image as PNG bytes (zlib's best compression)."""
    import cv2      # OpenCV takes a while to import: only what writes images pays

    pixels = image.permute(1, 2, 0).numpy()                           # (S, S, C)
    pixels = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels[:, :, ::-1]   # grey, or BGR
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels),
                               [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise WriteError("OpenCV cannot encode the samples as PNG")
    return encoded.tobytes()


def idx_bytes(array):
    """The IDX encoding of a uint8 array: 0x0000, type 0x08, its number of
    dimensions, each size as a big-endian uint32, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big")
                                                          for n in array.shape)
    return header + array.tobytes()


def counts_by_name(labels, names):
    """{class name: how many of `labels` are it}; None without labels."""
    if labels is None:
        return None
    return dict(zip(names, torch.bincount(labels, minlength=len(names)).tolist()))


def test_count(num, numClasses):
    """idx: the t10k split's samples, num // TEST_SHARE, at least one a class."""
    return max(num // TEST_SHARE, numClasses or 1)


class DataSet:
    """The samples of one generator, seed and truncation, and what a
    container holds of them (`files`: {relative path: bytes})."""

    def __init__(self, gen, num, seed, truncation, device, fmt="folder", names=None,
                 about=None):
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r}")
        self.numClasses = class_count(gen)
        if fmt == "idx":
            if not self.numClasses:
                raise UserError("--format idx writes labels, and this generator is "
                                "unconditional (its samples have no class): write a folder "
                                "(--format folder), one unlabelled folder of PNGs")
            if (gen.channels, gen.imageSize) != (1, 28):
                raise UserError(f"--format idx holds MNIST's 28x28 grey digits and this "
                                f"generator draws {gen.imageSize}x{gen.imageSize} "
                                f"{'grey' if gen.channels == 1 else 'colour'} images: write a "
                                "folder (--format folder)")
        if truncation is not None and truncation >= MAX_TRUNCATION:
            truncation = None                                   # untruncated, said as such
        self.num, self.seed, self.truncation, self.fmt = num, seed, truncation, fmt
        self.names = (list(names) if names else
                      [str(c) for c in range(self.numClasses)] if self.numClasses else None)
        self.images, self.labels = draw(gen, num, seed, truncation, device)
        self.testImages = self.testLabels = None
        if fmt == "idx":
            self.testImages, self.testLabels = draw(gen, test_count(num, self.numClasses),
                                                    seed, truncation, device, after=num)
        self.manifest = {
            "format": fmt, "generator_sha256": weights_sha256(gen), **(about or {}),
            "seed": seed, "truncation": truncation, "num": num,
            "image_size": gen.imageSize, "channels": gen.channels,
            "labels": ("the class the conditional generator was told" if self.numClasses
                       else "none: an unconditional generator's samples, one unlabelled folder"),
            "classes": self.names,
            "counts": counts_by_name(self.labels, self.names),
            "files": ("sample i is the i-th row of the seed's noise (truncated at T when "
                      "asked), drawn as class i mod K"),
        }
        if fmt == "idx":
            testNum = len(self.testImages)
            self.manifest["test_counts"] = counts_by_name(self.testLabels, self.names)
            self.manifest["test_split"] = (f"t10k holds {testNum:,} further samples, rows "
                                           f"{num:,} to {num + testNum - 1:,} of the same noise "
                                           "stream: none of them is in the train split")
        else:
            self.manifest["folders"] = folder_names(self.names) if self.numClasses else None

    def files(self):
        """{relative path: bytes}: the container's files, manifest.json last."""
        out = {}
        if self.fmt == "idx":
            for split, images, labels in (("train", self.images, self.labels),
                                          ("test", self.testImages, self.testLabels)):
                imagesName, labelsName = IDX_NAMES[split]
                out[imagesName] = idx_bytes(images[:, 0].numpy())      # (N, 28, 28)
                out[labelsName] = idx_bytes(labels.numpy())            # (N,)
        else:
            folders = self.manifest["folders"]
            for i, image in enumerate(self.images):
                where = [] if self.labels is None else [folders[int(self.labels[i])]]
                out["/".join(where + [f"{i:06d}.png"])] = encode_png(image)
        out[MANIFEST] = (json.dumps(self.manifest, indent=2) + "\n").encode()
        return out

    def said(self):
        """What was drawn, in words, for the line after the write."""
        T = ("untruncated" if self.truncation is None
             else f"noise truncated at T = {self.truncation:g}")
        if not self.numClasses:
            return f"{self.num:,} unlabelled samples (seed {self.seed}, {T})"
        counts = class_counts(self.num, self.numClasses)
        split = (f"{counts[0]:,} of each of the {self.numClasses} classes" if len(set(counts)) == 1
                 else f"{min(counts):,} or {max(counts):,} of each of the {self.numClasses} "
                      f"classes (the first {self.num % self.numClasses} one more)")
        test = (f"; t10k: {len(self.testImages):,} further samples"
                if self.testImages is not None else "")
        return f"{self.num:,} digits, {split} (seed {self.seed}, {T}){test}"


DEFAULT_NUM = 10_000         # --write-dataset without --num: as many as MNIST's test split


def add_dataset_options(ap):
    """generate.py's --write-dataset and --format."""
    ap.add_argument("--write-dataset", metavar="DIR", default=None,
        help="write --num samples as a data set into the new folder DIR, whole or not at all, "
             f"with {MANIFEST} (the generator's SHA-256, seed, truncation, counts, command): "
             "a conditional generator's as one subfolder of PNGs per class, the classes "
             "taking turns (equal counts when --num is a multiple of the class count, else the "
             "first classes one more), an unconditional one's as one unlabelled folder of PNGs; "
             f"--num at most {MAX_DATASET} here (default: off; --num {DEFAULT_NUM} with it)")
    ap.add_argument("--format", choices=FORMATS, default=None,
        help="with --write-dataset: folder (ImageFolder's layout, dcgan_mnist.py --dataset "
             "folder reads it) or idx (MNIST's four IDX files, dcgan_mnist.py --data-dir reads "
             "them: train holds the --num samples, t10k a further --num / 6 never in train; "
             "a conditional 28x28 grey generator only) (default: folder)")


def check_dataset_arguments(ap, args):
    """--write-dataset's checks, argparse's usage error for each; sets
    --format's default."""
    if args.write_dataset is None:
        if args.format is not None:
            ap.error("argument --format: the format of --write-dataset's data set; give "
                     "--write-dataset DIR too")
        return
    args.format = args.format or "folder"
    if args.num is not None and args.num > MAX_DATASET:
        ap.error(f"argument --num: at most {MAX_DATASET:,} with --write-dataset, got {args.num:,}")
    for name in ("output", "export", "individual", "interpolate", "morph", "digit",
                 "rejection", "langevin"):
        if getattr(args, name, None):
            ap.error(f"argument --{name}: not with --write-dataset (a mode of its own: write "
                     "the data set, then the montage in another command)")
    folder = args.write_dataset
    if not folder.strip():
        ap.error("argument --write-dataset: an empty name is not a folder")
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        ap.error(f"argument --write-dataset: the folder {parent} does not exist")
    if os.path.exists(folder) and not os.path.isdir(folder):
        ap.error(f"argument --write-dataset: {folder} is a file, not a folder")
    if name_problem(folder, folder=True):
        ap.error(f"argument --write-dataset: {name_problem(folder, folder=True)}")
    if folder_problem(folder):                   # one line, before anything is read
        raise UserError(f"--write-dataset: {folder_problem(folder)}")


def folder_problem(folder):
    """Why `folder` cannot become the data set (a link; a folder that holds
    files), or None."""
    if os.path.islink(folder):
        return f"{folder} is a symbolic link; name a new folder"
    if os.path.isdir(folder) and os.listdir(folder):
        return (f"{folder} exists and holds files; choose a new folder (or an empty one), "
                "nothing is written over")
    return None


def write_folder(folder, dataSet):
    """The data set's files into the new folder `folder`, whole or not at
    all: written into a hidden sibling folder, then renamed. A failure
    removes the sibling and raises WriteError in words."""
    folder = os.path.abspath(os.fspath(folder))
    parent, name = os.path.split(folder)
    try:
        partial = tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp")
    except OSError as e:
        raise WriteError(f"cannot write {folder}: {e.strerror or e}") from None
    try:
        os.chmod(partial, 0o777 & ~_umask())          # mkdtemp's is private (0700)
        for path, data in dataSet.files().items():
            target = os.path.join(partial, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        os.sync()                         # every file on the disk before the name appears
        problem = folder_problem(folder)  # (made meanwhile by someone else?)
        if problem:
            raise WriteError(f"cannot write {folder}: {problem}")
        os.replace(partial, folder)       # an empty folder there is replaced
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise WriteError(f"cannot write {folder}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def zip_bytes(dataSet):
    """The data set's files as a zip archive (PNGs are compressed already:
    stored as they are), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path, data in dataSet.files().items():
            archive.writestr(path, data)
    return buffer.getvalue()


def write_zip(path, dataSet):
    """The zip archive at `path`, whole or not at all."""
    write_bytes(path, zip_bytes(dataSet))
