# USAGE
# python benchmarks/bench_train.py --data-dir /usr/share/datasets/fashion-mnist
# python benchmarks/bench_train.py --data-dir ~/datasets/mnist --device cuda --json bench.json

"""Training speed: the article's loop, exactly as printed, against this
project's loop, on the same images, batch size, model, optimizer and loss.

Speed: all variants are built in one process and take turns, `--rounds`
times `--steps` batches each after a warm-up; the medians of images/s and of
the per-round ratio to the article's loop count. Memory: each variant then
runs alone in a fresh process, whose peak RSS (and peak GPU memory on CUDA)
is its own. Prints the device and the CPU model; `--json` writes it all.
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

# name -> what it measures
VARIANTS = {
    "article": "the article's loop as printed: torchvision dataset + ToTensor/"
               "Normalize + shuffled DataLoader, loss tensors summed per step",
    "project": "dcgan_mnist.py's loop: uint8 data on the device, one D pass over "
               "real + fake, D frozen in the G step, fused Adam, channels_last "
               "on the CPU, losses read once",
    "project-unfused": "the project's loop with the article's (unfused) Adam",
    "project-compile": "the project's loop under torch.compile (--compile)",
    "project-amp": "the project's loop under bf16 autocast (--amp)",
}


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
    from pyimagesearch import data

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
    tests/article_reference.py's article_step, verbatim."""
    import torch
    import torchvision.datasets
    from torch.nn import BCELoss
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from common import build_gan              # (sets up the import path)
    import article_reference as article
    from pyimagesearch.data import TORCHVISION_CLASSES

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
    gen, disc, genOpt, discOpt, _ = build_gan(0, NUM_EPOCHS, DEVICE, project=False)
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


def project_loop(args, DEVICE, fused=True, compile=False, amp=False):
    """dcgan_mnist.py's own train_one_epoch on the same images."""
    import contextlib
    import functools

    import torch
    from torch.nn import BCELoss

    import dcgan_mnist
    from common import build_gan
    from pyimagesearch import data as datasets

    NUM_EPOCHS, BATCH_SIZE = 20, args.batch_size
    imageSet = datasets.load_dataset(args.dataset, args.data_dir, allowDownload=False,
                                     log=lambda s: None)
    images = imageSet.images.to(DEVICE)
    if DEVICE.type == "cuda":
        torch.backends.cudnn.benchmark = True
    gen, disc, genOpt, discOpt, layout = build_gan(0, NUM_EPOCHS, DEVICE, fused=fused)
    criterion = BCELoss()
    trainGen, trainDisc = (torch.compile(gen), torch.compile(disc)) if compile else (gen, disc)
    autocast = (functools.partial(torch.autocast, device_type=DEVICE.type, dtype=torch.bfloat16)
                if amp else contextlib.nullcontext)
    noiseGen = torch.Generator(device=DEVICE).manual_seed(0)
    shuffleGen = torch.Generator().manual_seed(0)

    class NoBar:
        def update(self, n): pass
        def set_postfix(self, **kw): pass

    def run(numSteps):
        # whole epochs of the project's loop over a random subset of exactly
        # numSteps batches (same indexing into the full uint8 tensor)
        subset = torch.randperm(len(images), generator=shuffleGen)[:numSteps * BATCH_SIZE]
        stats = dcgan_mnist.train_one_epoch(
            trainGen, trainDisc, genOpt, discOpt, criterion, images[subset.to(DEVICE)],
            BATCH_SIZE, DEVICE, noiseGen, shuffleGen, NoBar(), discCore=trainDisc,
            autocast=autocast, memoryFormat=layout)
        return len(stats) * BATCH_SIZE

    return run


def build(variant, args, DEVICE):
    return {
        "article": lambda: article_loop(args, DEVICE),
        "project": lambda: project_loop(args, DEVICE),
        "project-unfused": lambda: project_loop(args, DEVICE, fused=False),
        "project-compile": lambda: project_loop(args, DEVICE, compile=True),
        "project-amp": lambda: project_loop(args, DEVICE, amp=True),
    }[variant]()


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
    """One variant alone in this process: warm-up and timed steps, then its
    peak memory. Prints one JSON line."""
    import torch

    from pyimagesearch import device as devices

    DEVICE = devices.select_device(args.device)
    run = build(args.worker, args, DEVICE)
    run(args.warmup)
    run(args.steps)
    sync(DEVICE)
    result = {"peak_rss_mib": peak_rss_mib()}
    if DEVICE.type == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def speed(args, variants, DEVICE):
    """All variants in this process, taking turns: `--rounds` rounds of
    `--steps` timed batches each, after one warm-up per variant. Turns make
    the comparison fair on a machine whose speed drifts (shared CPUs do:
    here the same loop ran anywhere between 900 and 1,500 images/s)."""
    runners = {}
    for v in variants:
        runners[v] = build(v, args, DEVICE)
        runners[v](args.warmup)                  # includes torch.compile's compiling
        sync(DEVICE)
    rates = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            start = time.perf_counter()
            seen = runners[v](args.steps)
            sync(DEVICE)
            rates[v].append(seen / (time.perf_counter() - start))
        print(f"[round {r + 1}/{args.rounds}] " + "  ".join(
            f"{v} {rates[v][-1]:.0f}" for v in variants) + " images/s", flush=True)
    return rates


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
        help="untimed batches per variant first (default: 10)")
    ap.add_argument("--rounds", type=int, default=10,
        help="rounds of all variants, taking turns (default: 10)")
    ap.add_argument("--variants", default="article,project,project-unfused,project-amp",
        help=f"comma-separated, from {', '.join(VARIANTS)} "
             "(default: article,project,project-unfused,project-amp)")
    ap.add_argument("--device", default="auto", help="(default: auto)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tv-root", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tv-splits", default=None, type=lambda s: s.split(","),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return memory_worker(args)

    import torch

    from pyimagesearch import device as devices

    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    DEVICE = devices.select_device(args.device)
    scratch = tempfile.mkdtemp(prefix="bench-tv-")
    try:
        args.tv_root, args.tv_splits = torchvision_root(args.data_dir, args.dataset, scratch)
        if not args.tv_splits:
            sys.exit(f"[ERROR] no {args.dataset} IDX files in {args.data_dir}")
        rates = speed(args, variants, DEVICE)

        # peak memory: each variant alone in a fresh process
        memory = {}
        for v in variants:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", v,
                   "--data-dir", args.data_dir, "--dataset", args.dataset,
                   "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--device", args.device,
                   "--tv-root", args.tv_root, "--tv-splits", ",".join(args.tv_splits)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f"[ERROR] worker {v} failed:\n{out.stderr[-3000:]}")
            memory[v] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    base = variants[0]
    summary = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                           "device": devices.describe(DEVICE),
                           "torch": str(torch.__version__), "python": platform.python_version()},
               "setup": {k: getattr(args, k) for k in ("data_dir", "dataset", "batch_size",
                                                        "steps", "warmup", "rounds")},
               "variants": {}}
    print(f"\n{summary['machine']['cpu']}, {summary['machine']['cores']} cores, "
          f"{summary['machine']['device']}, torch {summary['machine']['torch']}")
    print(f"batch {args.batch_size}; {args.rounds} rounds of {args.steps} timed batches "
          f"per variant, taking turns; medians\n")
    gpu = "peak_gpu_mib" in memory[base]
    print(f"{'variant':16s} {'images/s':>9s} {'vs ' + base + ' (paired)':>22s} {'peak RSS MiB':>13s}"
          + ("  peak GPU MiB" if gpu else ""))
    for v in variants:
        ratios = [a / b for a, b in zip(rates[v], rates[base])]
        entry = {"what": VARIANTS[v], "images_per_s_median": statistics.median(rates[v]),
                 "images_per_s_rounds": rates[v], "ratio_median": statistics.median(ratios),
                 "ratio_min": min(ratios), "ratio_max": max(ratios), **memory[v]}
        summary["variants"][v] = entry
        print(f"{v:16s} {entry['images_per_s_median']:9.1f} "
              f"{entry['ratio_median']:8.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] "
              f"{entry['peak_rss_mib']:13.1f}" + (f"  {entry['peak_gpu_mib']:12.1f}" if gpu else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
