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
    write_gif_frames([cv2.imread(os.fspath(p)) for p in framePaths], path, duration)


def write_gif_frames(frames, path, duration=500):
    """Animate (H, W, 3) uint8 arrays of grey digits into a looping GIF,
    written atomically."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to animate")
    frames = [Image.fromarray(np.ascontiguousarray(f[:, :, 0])) for f in frames]   # grey: 1 channel
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       "." + os.path.basename(path) + ".tmp.gif")
    frames[0].save(tmp, save_all=True, append_images=frames[1:],
                   duration=duration, loop=0, optimize=True)
    os.replace(tmp, path)


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

    history: dict of columns (lists), as checkpoint.history_columns gives.
    """
    import matplotlib
    matplotlib.use("Agg")                 # files only, no screen needed
    import matplotlib.pyplot as plt

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
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       "." + os.path.basename(path) + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
