"""What the benchmark scripts share: the article's GAN and loop, and running
dcgan_mnist.py itself as a user would."""

import json
import os
import subprocess
import sys
import tempfile

import torch
from torch.optim import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from reference import article                               # noqa: E402  the article's code, verbatim
from pyimagesearch.cli import check_writable_file             # noqa: E402
from pyimagesearch.dcgan import Discriminator, Generator    # noqa: E402
from pyimagesearch.training.output_folder import run_holding  # noqa: E402


def check_output_file(ap, option, path, suffix):
    """The rule generate.py and evaluate.py follow for the files they write
    (docs/usage.md), for a benchmark's output `path`, checked before any
    work: argparse's usage error for a name that cannot be written or for
    one of a training run's own files (its run.json, history.csv,
    losses.png, ...), which are never replaced. Any other file of that name
    is replaced (files.replaced says so in the line that reports it)."""
    check_writable_file(ap, option, path, suffix)
    folder = run_holding(path)
    if folder:
        ap.error(f"argument {option}: {path} is one of the files of the training run in "
                 f"{folder}; choose another name")


def build_gan(seed, epochs, device):
    """G, D and their Adams exactly as the article builds them, from `seed`.
    Returns gen, disc, genOpt, discOpt."""
    torch.manual_seed(seed)
    gen = Generator(inputDim=100, outputChannels=1)
    gen.apply(article.weights_init)
    gen.to(device)
    disc = Discriminator(depth=1)
    disc.apply(article.weights_init)
    disc.to(device)
    genOpt = Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / epochs)
    discOpt = Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999), weight_decay=0.0002 / epochs)
    return gen, disc, genOpt, discOpt


def run_script(*args, env=None):
    """python dcgan_mnist.py ARGS... in a fresh process, into a temporary
    output folder. Returns (run.json as a dict, the folder, the process's
    peak resident memory in MiB); raises with its stderr if it fails."""
    out = tempfile.mkdtemp(prefix="bench-run-")
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "dcgan_mnist.py"),
                                 "--output", out, "--no-progress", *map(str, args)],
                                cwd=ROOT, stdout=log, stderr=log,
                                env=dict(os.environ, **(env or {})))
        _, status, usage = os.wait4(proc.pid, 0)       # this child's own peak memory
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"dcgan_mnist.py {' '.join(map(str, args))} failed:\n"
                               f"{log.read()[-3000:]}")
    with open(os.path.join(out, "run.json")) as f:
        record = json.load(f)
    peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return record, out, peak
