"""What each --image-size and --channels costs: the models' parameters, the
script's training speed (images/s) and its peak memory, measured by running
dcgan_mnist.py itself on FakeData of that shape (docs/sizes.md).

    python benchmarks/bench_sizes.py [--images 2048] [--epochs 5] [--device auto]

Each shape trains --epochs epochs in a fresh process; the speed is that of
the epochs after the first (which pays for warming up), the memory the
process's peak resident set. Writes benchmarks/results/bench_sizes-*.json.
"""

import argparse
import json
import os
import platform
import shutil
import statistics

import torch

from common import ROOT, run_script
from pyimagesearch.device import describe, select_device
from pyimagesearch.models import describe as shape_name, model_classes

SHAPES = [(28, 1), (28, 3), (32, 1), (32, 3), (64, 1), (64, 3)]


def parameters(size, channels):
    Gen, Disc = model_classes(size)
    count = lambda m: sum(p.numel() for p in m.parameters())   # noqa: E731
    return count(Gen(inputDim=100, outputChannels=channels)), count(Disc(depth=channels))


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--images", type=int, default=2048, help="FakeData images (default: 2048)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs per shape (default: 5)")
    ap.add_argument("--device", default="auto", help="as for dcgan_mnist.py (default: auto)")
    ap.add_argument("--out", default=None, help="the JSON to write (default: results/...)")
    args = ap.parse_args()
    device = select_device(args.device)
    rows = []
    for size, channels in SHAPES:
        g, d = parameters(size, channels)
        record, folder, peak = run_script("--dataset", "fake", "--limit", args.images,
                                          "--epochs", args.epochs, "--image-size", size,
                                          "--channels", channels, "--device", args.device)
        shutil.rmtree(folder)
        seconds = statistics.median(record["seconds_per_epoch"][1:])
        rows.append({"image_size": size, "channels": channels, "generator_parameters": g,
                     "discriminator_parameters": d, "seconds_per_epoch": seconds,
                     "every_epoch_seconds": record["seconds_per_epoch"],
                     "images_per_second": args.images / seconds, "peak_rss_mib": peak})
        print(f"{shape_name(size, channels):14s} G {g:>9,}  D {d:>9,}  "
              f"{args.images / seconds:8,.0f} images/s  peak {peak:6,.0f} MiB", flush=True)
    result = {"machine": describe(device), "cpu": platform.processor() or platform.machine(),
              "torch": torch.__version__, "images": args.images, "epochs": args.epochs,
              "rows": rows}
    kind = "cpu-%dcore" % os.cpu_count() if device.type == "cpu" else device.type
    path = args.out or os.path.join(ROOT, "benchmarks", "results", f"bench_sizes-{kind}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
