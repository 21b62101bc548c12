# USAGE
# python benchmarks/bench_folder.py --folder /tmp/mnist-png

"""Decoding a folder of images (--dataset folder): images per second, peak
memory, and the time of a second, cached load. Each load runs in a fresh
process with an empty cache folder of its own, so it decodes for real."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pyimagesearch import files  # noqa: E402

WORKER = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from pyimagesearch.data import load_dataset
started = time.perf_counter()
data = load_dataset("folder", {folder!r}, log=lambda s: None)
seconds = time.perf_counter() - started
peak = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
print(json.dumps({{"images": len(data), "seconds": seconds, "peak_rss_mib": peak}}))
"""


def load_once(folder, cache):
    code = WORKER.format(root=ROOT, folder=folder)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, DCGAN_CACHE=cache), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline(cache):
    """Peak memory of a process that imports the same and loads nothing."""
    code = ("import sys; sys.path.insert(0, %r); import pyimagesearch.data, torch, PIL.Image\n"
            "for line in open('/proc/self/status'):\n"
            "    line.startswith('VmHWM:') and print(int(line.split()[1]) / 1024)") % ROOT
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, DCGAN_CACHE=cache))
    return float(out.stdout.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--folder", required=True)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="bench-folder-cache-")
    first = load_once(args.folder, cache)
    second = load_once(args.folder, cache)
    base = baseline(cache)
    n = first["images"]
    perImage = (first["peak_rss_mib"] - base) * 2**20 / n
    result = {"folder": args.folder, "images": n, "cpu_count": os.cpu_count(),
              "decode_seconds": first["seconds"], "images_per_s": n / first["seconds"],
              "cached_seconds": second["seconds"], "peak_rss_mib": first["peak_rss_mib"],
              "peak_rss_mib_cached": second["peak_rss_mib"], "baseline_rss_mib": base,
              "bytes_per_image_above_baseline": perImage,
              "projected_peak_mib": {str(k): base + perImage * k / 2**20 for k in (70_000, 1_000_000)}}
    print(f"{n:,} images: decoded in {first['seconds']:.1f} s ({result['images_per_s']:,.0f} images/s), "
          f"cached load {second['seconds']:.2f} s")
    print(f"peak RSS {first['peak_rss_mib']:.0f} MiB (the same process loading nothing: {base:.0f} MiB; "
          f"{perImage:,.0f} bytes per image above it)")
    for k, v in result["projected_peak_mib"].items():
        print(f"projected peak for {int(k):,} images: {v:,.0f} MiB")
    if args.json:
        files.write_json(args.json, result)


if __name__ == "__main__":
    main()
