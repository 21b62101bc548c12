"""The data layer: where the training images come from (IDX files, a
download, the embedded default, a folder of your own images, FakeData), what
they become (an `ImageSet` of uint8 images), and the batches the training
takes (`DeviceLoader`, `to_pixels`). Nothing here knows about models."""

from .imageset import DataError, ImageSet, to_pixels
from .loader import DeviceLoader
from .sources import load_dataset, load_training_data

__all__ = ["DataError", "ImageSet", "to_pixels", "DeviceLoader", "load_dataset",
           "load_training_data"]
