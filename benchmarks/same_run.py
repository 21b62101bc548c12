"""Are two training runs the same, bit for bit? Compares the output folders
of two runs of dcgan_mnist.py (for example one made before a refactoring
and one after, with the same command): every tensor of checkpoint.pt
(weights, Adam states, EMA, benchmark noise, history, random states), the
bytes of every montage, history.csv, metrics.json and the weights files,
and run.json apart from what a second run must change (timings, the
output path, the run's arguments' --output).

    python benchmarks/same_run.py BEFORE_DIR AFTER_DIR

Prints one line per file and exits 1 if anything differs.
"""

import argparse
import glob
import json
import os
import sys

import torch

# what differs between two runs of the same command by nature
VOLATILE = {"seconds_per_epoch", "arguments", "versions"}
SAME_BYTES = ("history.csv", "metrics.json", "output.gif", "generator.pth", "generator_ema.pth",
              "generator_best.pth")


def same(a, b):
    """Equal, tensors bit for bit, containers element by element."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.dtype == b.dtype and a.shape == b.shape
                and (torch.equal(a, b) or (a.is_floating_point()     # NaN == NaN here
                                           and torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0))
                                           and torch.equal(a.isnan(), b.isnan()))))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def differing(a, b, prefix=""):
    """The keys of two checkpoint dicts whose values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{prefix}{k} (only one)" for k in a.keys() ^ b.keys()]
        for k in a.keys() & b.keys():
            if k in ("run", "args", "dataDir"):
                continue
            out += differing(a[k], b[k], f"{prefix}{k}.")
        return out
    return [] if same(a, b) else [prefix.rstrip(".")]


def record(folder):
    with open(os.path.join(folder, "run.json")) as f:
        content = json.load(f)
    arguments = {k: v for k, v in content.get("arguments", {}).items() if k != "output"}
    return {k: v for k, v in content.items() if k not in VOLATILE}, arguments


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    args = ap.parse_args(argv)
    for folder in (args.before, args.after):
        if not os.path.isfile(os.path.join(folder, "checkpoint.pt")):
            ap.error(f"{folder} holds no checkpoint.pt: not the output folder of a run")
    bad = 0

    def report(name, ok, detail=""):
        nonlocal bad
        bad += not ok
        print(f"{'same' if ok else 'DIFFERENT'}  {name}{'  ' + detail if detail else ''}")

    load = lambda folder: torch.load(os.path.join(folder, "checkpoint.pt"),  # noqa: E731
                                     map_location="cpu", weights_only=True)
    diff = differing(load(args.before), load(args.after))
    report("checkpoint.pt (every tensor)", not diff, ", ".join(diff[:5]))
    names = sorted({os.path.basename(p) for folder in (args.before, args.after)
                    for p in glob.glob(os.path.join(folder, "epoch_*.png"))}) + list(SAME_BYTES)
    for name in names:
        paths = [os.path.join(folder, name) for folder in (args.before, args.after)]
        if not any(os.path.exists(p) for p in paths):
            continue
        if not all(os.path.exists(p) for p in paths):
            report(name, False, "in one folder only")
            continue
        if name.endswith((".pth",)):
            a, b = (torch.load(p, map_location="cpu", weights_only=True) for p in paths)
            report(name + " (every tensor)", same(a, b))
            continue
        with open(paths[0], "rb") as f, open(paths[1], "rb") as g:
            report(name, f.read() == g.read())
    (ra, aa), (rb, ab) = record(args.before), record(args.after)
    report("run.json (timings and --output aside)", ra == rb and aa == ab,
           ", ".join(sorted(k for k in ra.keys() | rb.keys() if ra.get(k) != rb.get(k))))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
