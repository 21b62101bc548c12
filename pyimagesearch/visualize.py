"""Everything that turns tensors into pictures: montages, GIFs, plots.
(The article's own montage code stands in dcgan_mnist.py.)"""

import math
import os

import cv2
import numpy as np
import torch
from imutils import build_montages

from . import files


def to_uint8_images(images):
    """Generator output (N, C, H, W) in [-1, 1] -> a list of (H, W, 3) uint8
    in OpenCV's BGR order, the article's arithmetic (x * 127.5 + 127.5,
    truncated) in torch: grey (C = 1) copied to the three channels, colour
    (C = 3, RGB) reordered."""
    pixels = images.detach().float().cpu().mul(127.5).add(127.5).to(torch.uint8)   # (N, C, H, W)
    pixels = pixels.permute(0, 2, 3, 1)                                            # (N, H, W, C)
    return list(to_bgr(pixels.numpy()))                                            # (H, W, 3) each


def to_bgr(images):
    """uint8 images (..., H, W, C) of 1 (grey) or 3 (RGB) channels -> the
    (..., H, W, 3) BGR that OpenCV and imutils write: the article's
    np.repeat for grey, the channels reversed for colour."""
    if images.shape[-1] == 1:
        return np.repeat(images, 3, axis=-1)
    return np.ascontiguousarray(images[..., ::-1])


def build_montage(images, grid=None):
    """One square montage of generator output, e.g. 256 -> 16x16 of 28x28."""
    if grid is None:
        grid = math.isqrt(len(images))
        if grid * grid != len(images):
            grid += 1
    size = (images.shape[3], images.shape[2])
    return build_montages(to_uint8_images(images), size, (grid, grid))[0]


def animate_montages(path, montagePaths, duration=500):
    """The GIF at `path` animating the image files `montagePaths`, in their
    order (files that cannot be read, e.g. deleted montages, are left out)."""
    frames = [f for f in (_read(p) for p in montagePaths) if f is not None]
    if frames:
        files.write_gif(path, [gif_frame(f) for f in frames], duration)


def _read(path):
    """An image file as (H, W, 3) BGR uint8, None if it cannot be read. Read
    by Python, decoded by OpenCV: cv2.imread takes no names that are not UTF-8."""
    try:
        data = np.fromfile(os.fspath(path), dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def gif_frame(image):
    """A (H, W, 3) BGR montage as a GIF frame: (H, W) grey when its three
    channels are equal (the article's montages), else (H, W, 3) RGB."""
    if (image == image[:, :, :1]).all():
        return np.ascontiguousarray(image[:, :, 0])
    return np.ascontiguousarray(image[:, :, ::-1])


def write_digit_gif(path, frames, duration=500):
    """The GIF at `path` animating (H, W, 3) BGR uint8 montages, grey or colour."""
    files.write_gif(path, [gif_frame(f) for f in frames], duration)


def smooth(values, weight=None):
    """Exponential moving average, bias-corrected (as TensorBoard's); by
    default over about a fiftieth of the curve."""
    if weight is None:
        weight = 1 - 1 / max(2, len(values) / 50)
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def plot_losses(history, path):
    """losses.png: G and D loss per batch (raw and smoothed) over training
    steps, with the epoch boundaries marked.

    history: dict of columns (lists), as history.History.columns gives.
    """
    import matplotlib       # a second to import: only when a plot is drawn
    matplotlib.use("Agg")                 # files only, no screen needed
    import matplotlib.pyplot as plt     # (after choosing the backend)

    steps, epochs = history["step"], history["epoch"]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    for column, label, color in (("loss_g", "generator", "tab:blue"),
                                 ("loss_d", "discriminator", "tab:orange")):
        ax.plot(steps, history[column], color=color, alpha=0.25, linewidth=0.7,
                label=f"{label} (per batch)")
        ax.plot(steps, smooth(history[column]), color=color, linewidth=1.6,
                label=f"{label} (smoothed)")
    for i in range(1, len(steps)):
        if epochs[i] != epochs[i - 1]:
            ax.axvline(steps[i] - 0.5, color="grey", linewidth=0.5, alpha=0.5)
    ax.set_xlabel("training step (batch); grey lines: epoch boundaries")
    ax.set_ylabel("BCE loss")
    ax.set_title("DCGAN losses")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    try:
        files.save_figure(path, fig)
    finally:
        plt.close(fig)
