"""Your own images: a folder of pictures made into the article's 28x28
digits, or with --image-size and --channels into S x S grey or colour
images.

The folder follows torchvision's ImageFolder convention, DIR/<class>/...,
one subfolder per class (images anywhere below it); a folder with images and
no subfolders is one unlabelled class. Hidden files and folders and files
that are not images (a README, .DS_Store, Thumbs.db) are skipped. Pillow,
the reader torchvision's ImageFolder uses, decodes PNG, JPEG, BMP, GIF,
WebP, TIFF (and PPM/PGM): any size, colour or grayscale, 8 or 16 bit, with
or without alpha, palette or CMYK.

Every image becomes C x S x S uint8 (1 x 28 x 28 by default) by this rule,
in this order (`to_image`):

1. the first frame (GIF, multi-page TIFF), turned upright as its EXIF
   orientation says (photos);
2. 16-bit samples scaled to 8 bits (x / 257, rounded);
3. transparency (an alpha channel, or a palette's transparent colour)
   composited onto a ground that contrasts with the opaque pixels: black
   under light strokes, white under dark ones (an icon drawn only by its
   alpha keeps its shape);
4. --channels 1: grayscale by ITU-R 601-2 luma (Pillow's convert("L"));
   --channels 3: RGB by Pillow's convert("RGB"): a palette's colours looked
   up, CMYK converted naively (R = 255 - C - K, ...), a grey image's one
   channel copied to all three (said in a line: it trains as colour all
   the same);
5. padded to a square, centred, with the colour of its ground (the median
   of the border pixels, per channel): nothing is cropped;
6. resized to S x S (--image-size: 28, 32 or 64) with Pillow's Lanczos
   filter, which antialiases;
7. light strokes on a dark ground, as MNIST and the article: with
   --invert auto a grey image whose ground (border median) is light, above
   127, is inverted (255 - value), while colour images (--channels 3) are
   kept as they are, their ground being part of the picture; --invert yes
   inverts every image, no none.

The decoded images are cached (under the evaluator's cache folder) by the
folder's file names and contents, the rule's version, --invert, the size
and the channels, so a second run on an unchanged folder does not decode
again.
"""

import hashlib
import os
import stat
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from .. import files
from ..checkpoint import load
from ..errors import printable, shorten
from .imageset import DataError, ImageSet

# torchvision's IMG_EXTENSIONS, and GIF, which Pillow reads too
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
INVERT_CHOICES = ("auto", "yes", "no")
SIZE = 28
LIGHT_GROUND = 127            # a ground (border median) above this is light
CACHE_VERSION = 1             # bump when the rule above changes
PROGRESS_EVERY = 30           # seconds between progress lines in a log
MAX_PIXELS = 50_000_000       # a 50-megapixel photo is read; a bomb's header is not
MAX_ASPECT = 50               # sides further apart than this are no picture of a digit


def _visible(name):
    return not name.startswith(".")


def _is_image(name):
    return _visible(name) and name.lower().endswith(EXTENSIONS)


def shown(path):
    """A path as it can be printed, whatever its name holds: a byte that is
    not UTF-8 as \\xff, a control or format character as its escape
    (errors.printable: a file name must not retitle or clear the terminal)."""
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _kind(path):
    """What a directory entry that is not a regular file or folder is."""
    if os.path.islink(path) and not os.path.exists(path):
        return "a symbolic link to nothing (or a loop)"
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")


class _Walk:
    """The images under a folder: regular files only, each file and each
    folder once however many links lead to it, and every entry that cannot
    be read said (`skipped`, `unreadable`)."""

    def __init__(self):
        self.seenFolders, self.seenFiles = set(), set()
        self.skipped, self.unreadable = [], []

    def listing(self, folder):
        try:
            return sorted(e for e in os.listdir(folder) if _visible(e))
        except OSError as e:
            self.unreadable.append((folder, e.strerror or str(e)))
            return []

    def first_visit(self, path, seen):
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    def images(self, folder, entries):
        found = []
        for entry in entries:
            path = os.path.join(folder, entry)
            if not _is_image(entry):
                continue
            if not os.path.isfile(path):
                if not os.path.isdir(path):
                    self.skipped.append((path, _kind(path)))
                continue
            if self.first_visit(path, self.seenFiles):
                found.append(path)
        return found

    def below(self, folder, counted=False):
        """Every image below `folder`, its subfolders in name order
        (counted: `folder` is a class folder, already marked as seen)."""
        if not counted and not self.first_visit(folder, self.seenFolders):
            return []
        entries = self.listing(folder)
        found = self.images(folder, entries)
        for entry in entries:
            path = os.path.join(folder, entry)
            if os.path.isdir(path):
                found += self.below(path)
        return found


def list_images(folder, log=print):
    """The images of an ImageFolder-style folder: (paths, labels, class
    names), class names None for a flat folder. DataError in words for a
    folder that is none, is empty, cannot be read, or mixes images and class
    folders; entries that are not regular files are skipped, in a line."""
    if not os.path.exists(folder):
        raise DataError(f"{shown(folder)}: no such folder (--dataset folder reads the images in it)")
    if not os.path.isdir(folder):
        raise DataError(f"{shown(folder)}: is a file; --dataset folder takes a folder of images")
    walk = _Walk()
    walk.first_visit(folder, walk.seenFolders)
    entries = walk.listing(folder)
    if walk.unreadable:
        raise DataError(f"{shown(folder)}: cannot be listed ({walk.unreadable[0][1]})")
    subfolders = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
    top = walk.images(folder, entries)
    if subfolders and top:
        raise DataError(f"{shown(folder)}: holds {len(top):,} images beside {len(subfolders)} "
                        f"subfolders (e.g. {shown(os.path.basename(top[0]))} and "
                        f"{shown(subfolders[0])}/): put every image in a class subfolder, or "
                        "use a flat folder without subfolders")
    paths, labels = top, [0] * len(top)
    for name in subfolders:               # a link to a class from inside another is no image
        walk.first_visit(os.path.join(folder, name), walk.seenFolders)
    for label, name in enumerate(subfolders):
        found = walk.below(os.path.join(folder, name), counted=True)
        if not found and not walk.unreadable:
            raise DataError(f"{shown(os.path.join(folder, name))}: a class folder with no images "
                            "(or only images already counted in another class, through a "
                            "link); remove it or add its images")
        paths += found
        labels += [label] * len(found)
    if walk.unreadable:
        path, why = walk.unreadable[0]
        raise DataError(f"{shown(path)}: cannot be listed ({why}), so its images would be left "
                        "out; make it readable or move it away"
                        + (f" ({len(walk.unreadable) - 1} more like it)" if len(walk.unreadable) > 1 else ""))
    if walk.skipped:
        path, kind = walk.skipped[0]
        log(f"[INFO] skipped {len(walk.skipped):,} entries named like images that are not "
            f"regular files, e.g. {shown(path)}: {kind}")
    if not paths:
        raise DataError(f"{shown(folder)}: holds no images ({', '.join(EXTENSIONS)})")
    return paths, labels, (subfolders or None)


def check_size(image):
    """ValueError for an image whose header promises more pixels than any
    digit needs (a decompression bomb: a few bytes of PNG that would take
    gigabytes), or an absurd aspect ratio, before it is decoded."""
    w, h = image.size
    if w < 1 or h < 1 or w * h > MAX_PIXELS:
        raise ValueError(f"{w:,} x {h:,} pixels; at most {MAX_PIXELS:,} are read")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(f"{w:,} x {h:,} pixels, an aspect ratio over {MAX_ASPECT}:1")


def to_digit(image, invert="auto"):
    """A Pillow image -> ((28, 28) uint8 array, whether it was inverted):
    the article's digit, by the rule in the module's docstring."""
    digit, inverted, _ = to_image(image, invert)
    return digit[0], inverted


def to_image(image, invert="auto", size=SIZE, channels=1):
    """A Pillow image -> ((channels, size, size) uint8 array, whether it was
    inverted, whether it was grey), by the rule in the module's docstring."""
    image.seek(0)                                             # 1. the first frame
    image = ImageOps.exif_transpose(image)
    array = np.asarray(image)
    if array.dtype.kind in "iu" and array.size and int(array.max()) > 65535:
        raise ValueError(f"a {array.dtype.itemsize * 8}-bit integer image with values up to "
                         f"{int(array.max()):,}, beyond 16 bits; save it with 8 or 16 bits")
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
    pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))   # 4. grey or RGB
    pixels = pixels.reshape(*pixels.shape[:2], -1)            # (H, W, channels)
    grey = channels == 1 or bool((pixels == pixels[:, :, :1]).all())
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    ground = np.median(border, axis=0).astype(np.uint8)      # (channels,)
    h, w = pixels.shape[:2]                                   # 5. pad to a square
    side = max(h, w)
    square = np.empty((side, side, channels), dtype=np.uint8)
    square[:] = ground
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = pixels
    picture = Image.fromarray(np.ascontiguousarray(square[:, :, 0]) if channels == 1 else square)
    small = np.asarray(picture.resize((size, size), Image.Resampling.LANCZOS))   # 6.
    small = small.reshape(size, size, channels).transpose(2, 0, 1)   # (channels, size, size)
    inverted = invert == "yes" or (invert == "auto" and channels == 1
                                   and int(ground[0]) > LIGHT_GROUND)        # 7.
    return (255 - small if inverted else small), inverted, grey


def _fingerprint(folder, paths, invert, size=SIZE, channels=1):
    """What the cache is keyed by: the folder, its files' names and
    contents (a file rewritten under the same name, size and time is
    another file), the rule's version, --invert, the size and the channels.
    Hashing reads the files, which costs far less than decoding them."""
    shape = "" if (size, channels) == (SIZE, 1) else f" {channels}x{size}x{size}"
    h = hashlib.sha256(os.fsencode(f"folder v{CACHE_VERSION} {os.path.abspath(folder)} {invert}"
                                   + shape))
    for path in paths:
        h.update(os.fsencode(f"\0{os.path.relpath(path, folder)}\0"))
        try:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError:
            h.update(b"unreadable")             # decode() names it
    return h.hexdigest()[:24]


def _cached(cachePath, shape, log):
    """The cache entry's content if it is what load_image_folder writes for
    images of `shape` (N, C, S, S), else None (said in a line: they are
    decoded again)."""
    count = shape[0]
    try:
        cached = load(cachePath)
        images, inverted, grey = cached["images"], cached["inverted"], cached.get("grey", 0)
        if (cached.get("version") == CACHE_VERSION and isinstance(images, torch.Tensor)
                and images.dtype == torch.uint8 and tuple(images.shape) == shape
                and isinstance(inverted, int) and 0 <= inverted <= count
                and isinstance(grey, int) and 0 <= grey <= count):
            return cached
        problem = "not what this version writes for these images"
    except Exception as e:  # noqa: BLE001 - whatever is wrong, the images are decoded again
        problem = f"unreadable: {shorten(e, 80)}"
    log(f"[INFO] ignoring the cache file {cachePath} ({problem}); decoding the images again")
    return None


def decode(paths, invert="auto", log=print, size=SIZE, channels=1):
    """All images as (N, channels, size, size) uint8, how many were
    inverted and how many were grey. Reads every file first and names the
    bad ones together (DataError)."""
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    bad, inverted, grey = [], 0, 0
    interactive = sys.stderr.isatty()
    bar = None
    if interactive and len(paths) > 2000:
        bar = tqdm(total=len(paths), desc="decoding images", unit="img", unit_scale=True,
                   leave=False, file=sys.stderr, mininterval=0.5)
    started = lastLine = time.perf_counter()
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                check_size(image)                    # before a pixel is decoded
                image.load()
                out[i], flipped, isGrey = to_image(image, invert, size, channels)
            inverted += flipped
            grey += isGrey
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
                Image.DecompressionBombError) as e:
            bad.append((path, printable(shorten(e, 100))))     # PIL's text quotes the name
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
                        f"{shown(path)} ({reason}); remove or replace them"
                        + (f" (the others: {', '.join(shown(os.path.basename(p)) for p, _ in bad[1:4])}"
                           + (", ..." if len(bad) > 4 else "") + ")" if len(bad) > 1 else ""))
    return out, inverted, grey


def load_image_folder(folder, invert="auto", log=print, size=SIZE, channels=1):
    """An ImageSet of the folder's images (decoded, or from the cache) at
    `size` x `size` pixels and `channels` channels."""
    paths, labels, classes = list_images(folder, log)
    key = _fingerprint(folder, paths, invert, size, channels)
    cachePath = os.path.join(files.cache_dir(), f"folder-{key}.pt")
    shape = (len(paths), channels, size, size)
    cached = _cached(cachePath, shape, log) if os.path.exists(cachePath) else None
    if cached is not None:
        images, inverted, grey = cached["images"], cached["inverted"], cached.get("grey", 0)
        log(f"[INFO] {len(paths):,} images of {shown(folder)} from the cache of decoded images")
    else:
        started = time.perf_counter()
        array, inverted, grey = decode(paths, invert, log, size, channels)
        images = torch.from_numpy(array)                     # (N, C, S, S)
        seconds = time.perf_counter() - started
        log(f"[INFO] decoded {len(paths):,} images of {shown(folder)} in {seconds:.1f} s "
            f"({len(paths) / max(seconds, 1e-9):,.0f} images/s; cached for the next run)")
        try:
            os.makedirs(os.path.dirname(cachePath), exist_ok=True)
            files.save_torch(cachePath, {"images": images, "inverted": inverted, "grey": grey,
                                         "version": CACHE_VERSION})
        except (OSError, files.WriteError) as e:
            log(f"[INFO] could not cache the decoded images ({e}); they are decoded again next time")
    if invert == "auto" and inverted:
        log(f"[INFO] {inverted:,} of {len(paths):,} images are dark on a light ground: inverted "
            "to the article's light strokes on a dark ground (--invert no keeps them as they are)")
    elif invert == "yes":
        log(f"[INFO] --invert yes: all {len(paths):,} images inverted")
    if channels == 3 and grey:
        log(f"[INFO] {grey:,} of {len(paths):,} images are grey (a grey file's one channel is "
            "copied to all three): they train as colour images all the same (--channels 1 "
            "trains grey)")
    described = (f"{len(classes)} classes" if classes else "no class subfolders")
    return ImageSet(images=images, labels=torch.tensor(labels, dtype=torch.int64),
                    source=f"image folder {shown(folder)} ({len(paths):,} images, {described})",
                    splits={"train": len(paths)}, classes=classes)
