# USAGE
# python benchmarks/bench_train.py --data-dir /usr/share/datasets/fashion-mnist
# python benchmarks/bench_train.py --data-dir ~/datasets/mnist --device cuda --json bench.json

"""Training speed: the article's loop, exactly as printed, against
dcgan_mnist.py itself, on the same images, batch size, model, optimizer and
loss.

The article's loop runs in this process. The project's is the script, run
as a user runs it (a fresh `python dcgan_mnist.py` process per round, two
epochs of `--steps` batches; the second epoch is timed, from run.json's
seconds_per_epoch, so start-up and warm-up are left out). The variants take
turns, `--rounds` times; the medians of images/s and of the per-round ratio
to the article's loop count. Peak memory: each variant in a process of its
own (the script's is the whole script's, data and plotting included).
Prints the device and the CPU model; `--json` writes it all.
"""

import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from pyimagesearch import files  # noqa: E402

# name -> what it measures
VARIANTS = {
    "article": "the article's loop as printed: torchvision dataset + ToTensor/"
               "Normalize + shuffled DataLoader, loss tensors summed per step",
    "project": "dcgan_mnist.py: uint8 data on the device, one D pass over real + "
               "fake, D frozen in the G step, fused Adam, channels_last on the CPU, "
               "losses read once an epoch",
    "project-compile": "dcgan_mnist.py --compile",
    "project-amp": "dcgan_mnist.py --amp (bf16 autocast)",
    "project-conditional": "dcgan_mnist.py --conditional (docs/conditional.md)",
}
SCRIPT_FLAGS = {"project": [], "project-compile": ["--compile"], "project-amp": ["--amp"],
                "project-conditional": ["--conditional"]}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torchvision_root(dataDir, dataset, scratch):
    """A folder in torchvision's layout (ROOT/<Class>/raw, uncompressed) with
    the images of dataDir, so the article's `MNIST(root=...)` reads them."""
    from pyimagesearch.data import idx as data

    files = data.find_idx_files(dataDir, dataset)
    raw = os.path.join(scratch, data.TORCHVISION_CLASSES[dataset], "raw")
    os.makedirs(raw, exist_ok=True)
    for split, pair in files.items():
        for path in pair:
            target = os.path.join(raw, os.path.basename(path).removesuffix(".gz"))
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return scratch, sorted(files)


# --------------------------------------------------------------- the loops

def article_loop(args, DEVICE):
    """The article's data pipeline and batch loop, as printed (only the
    number of batches is limited); its batch statements are
    reference/article.py's article_step, verbatim."""
    import torch
    import torchvision.datasets
    from torch.nn import BCELoss
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from common import build_gan              # (sets up the import path)
    from reference import article
    from pyimagesearch.data.sources import TORCHVISION_CLASSES

    NUM_EPOCHS, BATCH_SIZE = 20, args.batch_size
    cls = getattr(torchvision.datasets, TORCHVISION_CLASSES[args.dataset])
    dataTransforms = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.5), (0.5))]
    )
    splits = [cls(root=args.tv_root, train=(s == "train"), download=False,
                  transform=dataTransforms) for s in args.tv_splits]
    data = torch.utils.data.ConcatDataset(splits)
    dataloader = DataLoader(data, shuffle=True, batch_size=BATCH_SIZE)
    gen, disc, genOpt, discOpt = build_gan(0, NUM_EPOCHS, DEVICE)
    criterion = BCELoss()

    def batches():
        while True:                      # epochs, as long as needed
            for x in dataloader:
                yield x

    def run(numSteps):
        epochLossG = 0
        epochLossD = 0
        seen = 0
        stream = batches()
        for _ in range(numSteps):
            images = next(stream)[0]
            noise = torch.randn(images.size(0), 100, 1, 1, device=DEVICE)
            errorG, errorD = article.article_step(gen, disc, genOpt, discOpt,
                                                  criterion, images, noise, DEVICE)
            # the article sums the loss tensors, graphs and all
            epochLossD += errorD
            epochLossG += errorG
            seen += images.size(0)
        # the article prints the epoch's losses: the one sync of its loop
        epochLossG.item(), epochLossD.item()
        return seen

    return run


def script_round(variant, args):
    """One round of a project variant: dcgan_mnist.py for two epochs of
    args.steps batches; images/s of the second, and the process's peak RSS."""
    from common import run_script

    images = args.steps * args.batch_size
    record, out, peak = run_script(
        "--data-dir", args.data_dir, "--dataset", args.dataset, "--no-download",
        "--epochs", 2, "--batch-size", args.batch_size, "--limit", images,
        "--device", args.device, "--seed", 0, *SCRIPT_FLAGS[variant])
    shutil.rmtree(out, ignore_errors=True)
    return images / record["seconds_per_epoch"][1], peak


def sync(DEVICE):
    import torch
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def peak_rss_mib():
    """This process's peak resident memory. VmHWM, not getrusage's
    ru_maxrss: a child inherits its parent's ru_maxrss across fork and exec,
    so every worker would report the (large) parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss     # no /proc: macOS, in bytes
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def memory_worker(args):
    """The article's loop alone in this process: warm-up and timed steps,
    then its peak memory. Prints one JSON line."""
    import torch

    from pyimagesearch.device import select_device

    DEVICE = select_device(args.device)
    run = article_loop(args, DEVICE)
    run(args.warmup)
    run(args.steps)
    sync(DEVICE)
    result = {"peak_rss_mib": peak_rss_mib()}
    if DEVICE.type == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def speed(args, variants, DEVICE):
    """All variants taking turns: `--rounds` rounds, each variant `--steps`
    timed batches a round (the article's loop after one warm-up in this
    process; the script in a fresh process, second epoch timed). Turns make
    the comparison fair on a machine whose speed drifts (shared CPUs do:
    here the same loop ran anywhere between 900 and 1,700 images/s).
    Returns the images/s of every round and the script's peak memory."""
    article = None
    if "article" in variants:
        article = article_loop(args, DEVICE)
        article(args.warmup)
        sync(DEVICE)
    rates, peaks = {v: [] for v in variants}, {}
    for r in range(args.rounds):
        for v in variants:
            if v == "article":
                start = time.perf_counter()
                seen = article(args.steps)
                sync(DEVICE)
                rates[v].append(seen / (time.perf_counter() - start))
            else:
                rate, peak = script_round(v, args)
                rates[v].append(rate)
                peaks[v] = max(peaks.get(v, 0), peak)
        print(f"[round {r + 1}/{args.rounds}] " + "  ".join(
            f"{v} {rates[v][-1]:.0f}" for v in variants) + " images/s", flush=True)
    return rates, peaks


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist",
        help="MNIST-format IDX files, flat or torchvision layout (default: "
             "Debian's dataset-fashion-mnist, 70,000 images)")
    ap.add_argument("--dataset", default="fashion-mnist",
        choices=("mnist", "fashion-mnist", "kmnist"),
        help="which torchvision class the article's loop reads them with "
             "(default: fashion-mnist)")
    ap.add_argument("--batch-size", type=int, default=128, help="(default: 128)")
    ap.add_argument("--steps", type=int, default=30,
        help="timed batches per variant per round (default: 30)")
    ap.add_argument("--warmup", type=int, default=10,
        help="untimed batches of the article's loop first (default: 10)")
    ap.add_argument("--rounds", type=int, default=10,
        help="rounds of all variants, taking turns (default: 10)")
    ap.add_argument("--variants", default="article,project,project-amp",
        help=f"comma-separated, from {', '.join(VARIANTS)} "
             "(default: article,project,project-amp)")
    ap.add_argument("--device", default="auto", help="(default: auto)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tv-root", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tv-splits", default=None, type=lambda s: s.split(","),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return memory_worker(args)

    import torch

    from pyimagesearch.device import describe, select_device

    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    DEVICE = select_device(args.device)
    scratch = tempfile.mkdtemp(prefix="bench-tv-")
    try:
        args.tv_root, args.tv_splits = torchvision_root(args.data_dir, args.dataset, scratch)
        if not args.tv_splits:
            sys.exit(f"[ERROR] no {args.dataset} IDX files in {args.data_dir}")
        rates, peaks = speed(args, variants, DEVICE)
        memory = {v: {"peak_rss_mib": peak} for v, peak in peaks.items()}
        if "article" in variants:     # the article's loop alone in a fresh process
            cmd = [sys.executable, os.path.abspath(__file__), "--worker",
                   "--data-dir", args.data_dir, "--dataset", args.dataset,
                   "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--device", args.device,
                   "--tv-root", args.tv_root, "--tv-splits", ",".join(args.tv_splits)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f"[ERROR] the article's memory worker failed:\n{out.stderr[-3000:]}")
            memory["article"] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    base = variants[0]
    summary = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                           "device": describe(DEVICE),
                           "torch": str(torch.__version__), "python": platform.python_version()},
               "setup": {k: getattr(args, k) for k in ("data_dir", "dataset", "batch_size",
                                                        "steps", "warmup", "rounds")},
               "variants": {}}
    print(f"\n{summary['machine']['cpu']}, {summary['machine']['cores']} cores, "
          f"{summary['machine']['device']}, torch {summary['machine']['torch']}")
    print(f"batch {args.batch_size}; {args.rounds} rounds of {args.steps} timed batches "
          f"per variant, taking turns; medians\n")
    print(f"{'variant':16s} {'images/s':>9s} {'vs ' + base + ' (paired)':>22s} {'peak RSS MiB':>13s}")
    for v in variants:
        ratios = [a / b for a, b in zip(rates[v], rates[base])]
        entry = {"what": VARIANTS[v], "images_per_s_median": statistics.median(rates[v]),
                 "images_per_s_rounds": rates[v], "ratio_median": statistics.median(ratios),
                 "ratio_min": min(ratios), "ratio_max": max(ratios), **memory[v]}
        summary["variants"][v] = entry
        print(f"{v:16s} {entry['images_per_s_median']:9.1f} "
              f"{entry['ratio_median']:8.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] "
              f"{entry['peak_rss_mib']:13.1f}")
    if args.json:
        files.write_json(args.json, summary)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
