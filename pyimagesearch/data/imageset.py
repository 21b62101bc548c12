"""What every data source gives: an `ImageSet`, all images as one uint8
tensor (N, 1, 28, 28) with their labels, train split first, then test split
(the article concatenates both); and `to_pixels`, the article's
ToTensor() + Normalize on whole batches."""

from dataclasses import dataclass, field

import torch

from ..errors import UserError

IMAGE_SHAPE = (28, 28)


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

