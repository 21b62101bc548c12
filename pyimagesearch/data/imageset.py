"""What every data source gives: an `ImageSet`, all images as one uint8
tensor (N, C, S, S) with their labels, train split first, then test split
(the article concatenates both): C channels (1 grey, 3 RGB) of S x S pixels,
the article's (N, 1, 28, 28) by default; `conform`, which brings square
images to another size or channel count by the folder rule's steps
(docs/sizes.md); and `to_pixels`, the article's ToTensor() + Normalize on
whole batches."""

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..errors import UserError

IMAGE_SHAPE = (28, 28)          # the MNIST formats' images, and the article's


class DataError(UserError):
    """A data problem the user can fix; the message names the file and what to do."""


@dataclass
class ImageSet:
    images: torch.Tensor        # (N, C, S, S) uint8, pixels in [0, 255]
    labels: torch.Tensor        # (N,) int64
    source: str                 # where the images came from, in words
    splits: dict = field(default_factory=dict)   # split name -> count, in order
    fallback: bool = False      # True when the embedded default was used
    classes: list = None        # the class names, by label; None: unlabelled

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        """(image (C, S, S) uint8, label), as a torch Dataset gives."""
        return self.images[index], self.labels[index]

    def head(self, count):
        """The first `count` images (all if None), as an ImageSet."""
        if count is None or count >= len(self):
            return self
        return ImageSet(self.images[:count], self.labels[:count], self.source,
                        {"train": count}, self.fallback, self.classes)

    @property
    def size(self):
        """The images' side in pixels: 28 for the article's."""
        return self.images.shape[-1]

    @property
    def channels(self):
        """1 (grey) or 3 (RGB)."""
        return self.images.shape[1]

    def split_range(self, name):
        """(start, stop) of a split inside `images`, or None if absent."""
        start = 0
        for split, count in self.splits.items():
            if split == name:
                return start, start + count
            start += count
        return None

def fingerprint(imageSet):
    """The SHA-256 of the images' bytes: run.json's data_sha256 (and an
    export's config.json's) for the images a run trained on."""
    return hashlib.sha256(imageSet.images.numpy().tobytes()).hexdigest()


def conform(imageSet, size, channels, log=print):
    """`imageSet` at `size` x `size` pixels and `channels` channels, by the
    folder rule's steps (pyimagesearch/data/folder.py): RGB to grey by
    ITU-R 601-2 luma, grey to RGB by copying the channel, resized with
    Lanczos. The same ImageSet when it already is; a line says what changed."""
    if imageSet.size == size and imageSet.channels == channels:
        return imageSet
    if imageSet.images.shape[-2] != imageSet.size:
        raise DataError(f"{imageSet.source}: images of {imageSet.images.shape[-2]}x{imageSet.size} "
                        "pixels, not square")
    out = np.empty((len(imageSet), channels, size, size), dtype=np.uint8)
    mode = "L" if imageSet.channels == 1 else "RGB"
    for i, image in enumerate(imageSet.images.numpy()):
        picture = Image.fromarray(image[0] if mode == "L" else image.transpose(1, 2, 0), mode)
        if channels == 1:
            picture = picture.convert("L")
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.Resampling.LANCZOS)
        array = np.asarray(picture)
        out[i] = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    changes = ([f"{imageSet.size}x{imageSet.size} resized to {size}x{size} (Lanczos)"]
               if imageSet.size != size else []) \
        + (["colour made grey (ITU-R 601-2 luma)" if channels == 1
            else "grey copied to all three channels"] if imageSet.channels != channels else [])
    log(f"[INFO] {len(imageSet):,} images: {', '.join(changes)}")
    return ImageSet(torch.from_numpy(out), imageSet.labels, imageSet.source, imageSet.splits,
                    imageSet.fallback, imageSet.classes)


def to_pixels(images):
    """uint8 images (N, C, S, S) -> float32 pixels in [-1, 1], on their
    device.

    Exactly the article's ToTensor() then Normalize((0.5), (0.5)): divide by
    255, subtract 0.5, divide by 0.5, in float32 (tests/test_data.py checks
    it against torchvision's own transforms), for a whole batch at once.
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"to_pixels takes uint8 images, got {images.dtype}")
    return images.float().div_(255).sub_(0.5).div_(0.5)

