"""Your own images: a folder of pictures made into the article's 28x28 digits.

The folder follows torchvision's ImageFolder convention, DIR/<class>/...,
one subfolder per class (images anywhere below it); a folder with images and
no subfolders is one unlabelled class. Hidden files and folders and files
that are not images (a README, .DS_Store, Thumbs.db) are skipped. Pillow,
the reader torchvision's ImageFolder uses, decodes PNG, JPEG, BMP, GIF,
WebP, TIFF (and PPM/PGM): any size, colour or grayscale, 8 or 16 bit, with
or without alpha.

Every image becomes 1x28x28 uint8 by this rule, in this order (`to_digit`):

1. the first frame (GIF, multi-page TIFF), turned upright as its EXIF
   orientation says (photos);
2. 16-bit samples scaled to 8 bits (x / 257, rounded);
3. transparency composited onto a ground that contrasts with the opaque
   pixels: black under light strokes, white under dark ones (an icon drawn
   only by its alpha keeps its shape);
4. grayscale by ITU-R 601-2 luma (Pillow's convert("L"));
5. padded to a square, centred, with the colour of its ground (the median of
   the border pixels): nothing is cropped;
6. resized to 28x28 with Pillow's Lanczos filter, which antialiases;
7. light strokes on a dark ground, as MNIST and the article: with
   --invert auto an image whose ground (border median) is light, above 127,
   is inverted (255 - value); --invert yes inverts every image, no none.

The decoded images are cached (under the evaluator's cache folder) by the
folder's file names, sizes and modification times, so a second run on an
unchanged folder does not decode again.
"""

import hashlib
import os
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from .. import files
from ..errors import shorten
from .imageset import DataError, ImageSet

# torchvision's IMG_EXTENSIONS, and GIF, which Pillow reads too
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
INVERT_CHOICES = ("auto", "yes", "no")
SIZE = 28
LIGHT_GROUND = 127            # a ground (border median) above this is light
CACHE_VERSION = 1             # bump when the rule above changes
PROGRESS_EVERY = 30           # seconds between progress lines in a log


def _visible(name):
    return not name.startswith(".")


def _is_image(name):
    return _visible(name) and name.lower().endswith(EXTENSIONS)


def list_images(folder):
    """The images of an ImageFolder-style folder: (paths, labels, class
    names), class names None for a flat folder. DataError in words for a
    folder that is none, is empty, or mixes images and class folders."""
    if not os.path.exists(folder):
        raise DataError(f"{folder}: no such folder (--dataset folder reads the images in it)")
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: is a file; --dataset folder takes a folder of images")
    entries = sorted(e for e in os.listdir(folder) if _visible(e))
    subfolders = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
    top = [e for e in entries if _is_image(e) and os.path.isfile(os.path.join(folder, e))]
    if subfolders and top:
        raise DataError(f"{folder}: holds {len(top):,} images beside {len(subfolders)} "
                        f"subfolders (e.g. {top[0]} and {subfolders[0]}/): put every image in "
                        "a class subfolder, or use a flat folder without subfolders")
    if not subfolders:
        if not top:
            raise DataError(f"{folder}: holds no images ({', '.join(EXTENSIONS)})")
        return [os.path.join(folder, e) for e in top], [0] * len(top), None
    paths, labels = [], []
    for label, name in enumerate(subfolders):
        found = []
        for root, dirs, names in os.walk(os.path.join(folder, name), followlinks=True):
            dirs[:] = sorted(d for d in dirs if _visible(d))
            found += [os.path.join(root, n) for n in sorted(names) if _is_image(n)]
        if not found:
            raise DataError(f"{os.path.join(folder, name)}: a class folder with no images; "
                            "remove it or add its images")
        paths += found
        labels += [label] * len(found)
    return paths, labels, subfolders


def to_digit(image, invert="auto"):
    """A Pillow image -> ((28, 28) uint8 array, whether it was inverted),
    by the rule in the module's docstring."""
    image.seek(0)                                             # 1. the first frame
    image = ImageOps.exif_transpose(image)
    array = np.asarray(image)
    if array.dtype in (np.uint16, np.int32) or image.mode.startswith("I"):
        array = np.clip(np.round(array.astype(np.float64) / 257), 0, 255)   # 2. 16 -> 8 bits
        image = Image.fromarray(array.astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):             # 3. transparency
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[:, :, 3]
        luma = np.asarray(rgba.convert("L"))
        opaque = luma[alpha > 127]
        ground = 0 if opaque.size == 0 or opaque.mean() > LIGHT_GROUND else 255
        base = Image.new("RGBA", rgba.size, (ground, ground, ground, 255))
        image = Image.alpha_composite(base, rgba)
    grey = np.asarray(image.convert("L"))                     # 4. grayscale
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ground = int(np.median(border))
    h, w = grey.shape                                         # 5. pad to a square
    side = max(h, w)
    square = np.full((side, side), ground, dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = grey
    small = np.asarray(Image.fromarray(square).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
    inverted = invert == "yes" or (invert == "auto" and ground > LIGHT_GROUND)   # 7.
    return (255 - small if inverted else small), inverted


def _fingerprint(folder, paths, invert):
    """What the cache is keyed by: the folder, its files, their sizes and
    modification times, the rule's version and --invert."""
    h = hashlib.sha256(f"folder v{CACHE_VERSION} {os.path.abspath(folder)} {invert}".encode())
    for path in paths:
        st = os.stat(path)
        h.update(f"\0{os.path.relpath(path, folder)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def decode(paths, invert="auto", log=print):
    """All images as (N, 28, 28) uint8 and how many were inverted. Reads
    every file first and names the bad ones together (DataError)."""
    out = np.empty((len(paths), SIZE, SIZE), dtype=np.uint8)
    bad, inverted = [], 0
    interactive = sys.stderr.isatty()
    bar = None
    if interactive and len(paths) > 2000:
        bar = tqdm(total=len(paths), desc="decoding images", unit="img", unit_scale=True,
                   leave=False, file=sys.stderr, mininterval=0.5)
    started = lastLine = time.perf_counter()
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                image.load()
                out[i], flipped = to_digit(image, invert)
            inverted += flipped
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
            bad.append((path, shorten(e, 100)))
        if bar is not None:
            bar.update(1)
        elif len(paths) > 2000 and time.perf_counter() - lastLine > PROGRESS_EVERY:
            lastLine = time.perf_counter()
            log(f"[INFO] decoding images: {i + 1:,} of {len(paths):,} "
                f"({(i + 1) / (lastLine - started):,.0f} images/s)")
    if bar is not None:
        bar.close()
    if bad:
        path, reason = bad[0]
        raise DataError(f"{len(bad):,} of {len(paths):,} images cannot be read, the first "
                        f"{path} ({reason}); remove or replace them"
                        + (f" (the others: {', '.join(os.path.basename(p) for p, _ in bad[1:4])}"
                           + (", ..." if len(bad) > 4 else "") + ")" if len(bad) > 1 else ""))
    return out, inverted


def load_image_folder(folder, invert="auto", log=print):
    """An ImageSet of the folder's images (decoded, or from the cache)."""
    paths, labels, classes = list_images(folder)
    key = _fingerprint(folder, paths, invert)
    cachePath = os.path.join(files.cache_dir(), f"folder-{key}.pt")
    cached = None
    if os.path.exists(cachePath):
        try:
            cached = torch.load(cachePath, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - an unreadable cache entry is decoded again
            cached = None
    if cached is not None and len(cached["images"]) == len(paths):
        images, inverted = cached["images"], cached["inverted"]
        log(f"[INFO] {len(paths):,} images of {folder} from the cache of decoded images")
    else:
        started = time.perf_counter()
        array, inverted = decode(paths, invert, log)
        images = torch.from_numpy(array).unsqueeze(1)        # (N, 28, 28) -> (N, 1, 28, 28)
        seconds = time.perf_counter() - started
        log(f"[INFO] decoded {len(paths):,} images of {folder} in {seconds:.1f} s "
            f"({len(paths) / max(seconds, 1e-9):,.0f} images/s; cached for the next run)")
        try:
            os.makedirs(os.path.dirname(cachePath), exist_ok=True)
            files.save_torch(cachePath, {"images": images, "inverted": inverted,
                                         "version": CACHE_VERSION})
        except (OSError, files.WriteError) as e:
            log(f"[INFO] could not cache the decoded images ({e}); they are decoded again next time")
    if invert == "auto" and inverted:
        log(f"[INFO] {inverted:,} of {len(paths):,} images are dark on a light ground: inverted "
            "to the article's light strokes on a dark ground (--invert no keeps them as they are)")
    elif invert == "yes":
        log(f"[INFO] --invert yes: all {len(paths):,} images inverted")
    described = (f"{len(classes)} classes" if classes else "no class subfolders")
    return ImageSet(images=images, labels=torch.tensor(labels, dtype=torch.int64),
                    source=f"image folder {folder} ({len(paths):,} images, {described})",
                    splits={"train": len(paths)}, classes=classes)
