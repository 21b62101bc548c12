"""Everything that turns tensors into pictures: montages, the GIF, plots."""

import math
import os

import cv2
import numpy as np
from imutils import build_montages


def to_uint8_images(images):
    """Generator output (N, 1, H, W) in [-1, 1] -> a list of (H, W, 3) uint8.

    The article's own conversion, step by step.
    """
    images = images.detach().cpu().numpy().transpose((0, 2, 3, 1))   # (N, H, W, 1)
    images = ((images * 127.5) + 127.5).astype("uint8")               # [-1, 1] -> [0, 255]
    images = np.repeat(images, 3, axis=-1)                            # (N, H, W, 3)
    return list(images)


def build_montage(images, grid=None):
    """One square montage of generator output, e.g. 256 -> 16x16 of 28x28."""
    if grid is None:
        grid = math.isqrt(len(images))
        if grid * grid != len(images):
            grid += 1
    size = (images.shape[3], images.shape[2])
    return build_montages(to_uint8_images(images), size, (grid, grid))[0]


def write_image(path, image):
    """cv2.imwrite, but a failure is an error instead of a False.

    PNGs get zlib's best compression: the same pixels, about a third of
    OpenCV's default size.
    """
    if not cv2.imwrite(os.fspath(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write the image {path} (cv2.imwrite returned False)")


def write_gif(framePaths, path, duration=500):
    """Animate image files, in the given order, into a looping GIF."""
    from PIL import Image

    if not framePaths:
        raise ValueError("no frames to animate")
    frames = [Image.open(p).convert("L") for p in framePaths]   # grey digits: 1 channel
    frames[0].save(path, save_all=True, append_images=frames[1:],
                   duration=duration, loop=0, optimize=True)
