# USAGE
# python benchmarks/signal_stress.py --tries 40 --signal term
# python benchmarks/signal_stress.py --tries 20 --signal int --max-delay 2

"""Ctrl-C and SIGTERM at random moments of a real run: how each try ended.

Each try starts `python dcgan_mnist.py` (the embedded default, 64 digits,
batch 16, so an epoch takes a fraction of a second and its files are a
large part of it), waits for the first checkpoint.pt, sleeps a random
0..--max-delay seconds and sends the signal. A clean stop is exit 143
(SIGTERM) or 130 (Ctrl-C) ending in its "[INFO] interrupted ..." line (the
embedded default's warning comes before it), no traceback; anything
else is printed with the child's stderr (faulthandler on, so a crash shows
where each thread was). Prints the count of each exit status.
"""

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGNALS = {"term": (signal.SIGTERM, 143), "int": (signal.SIGINT, 130)}


def one_try(folder, number, delay, timeout=120):
    """The exit status and stderr of one run signalled `delay` s after its
    first checkpoint."""
    out = os.path.join(folder, "o")
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "dcgan_mnist.py", "-o", out,
         "--data-dir", os.path.join(folder, "none"), "--no-download", "--limit", "64",
         "-b", "16", "-e", "500", "--no-progress"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + timeout
    while not os.path.exists(os.path.join(out, "checkpoint.pt")):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            return "never saved an epoch", proc.communicate()[1]
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(number)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "still running 60 s after the signal", proc.communicate()[1]
    shutil.rmtree(out)
    return proc.returncode, stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=40)
    ap.add_argument("--signal", choices=sorted(SIGNALS), default="term")
    ap.add_argument("--max-delay", type=float, default=1.2,
                    help="seconds after the first checkpoint, at most")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    number, clean = SIGNALS[args.signal]
    rng, ended = random.Random(args.seed), collections.Counter()
    with tempfile.TemporaryDirectory(prefix="signal-stress-") as folder:
        for i in range(args.tries):
            delay = rng.uniform(0, args.max_delay)
            status, stderr = one_try(folder, number, delay)
            lines = [line for line in stderr.splitlines() if line.strip()]
            fine = (status == clean and "Traceback" not in stderr and bool(lines)
                    and lines[-1].startswith("[INFO] interrupted"))
            ended[status if fine else f"{status} (not clean)"] += 1
            if not fine:
                print(f"try {i + 1}, {delay:.3f} s after the checkpoint: {status}\n"
                      + stderr[-3000:], flush=True)
    print(f"{args.tries} tries, SIGTERM" if args.signal == "term" else f"{args.tries} tries, Ctrl-C",
          "->", ", ".join(f"{k}: {v}" for k, v in ended.most_common()))
    return 0 if set(ended) == {clean} else 1


if __name__ == "__main__":
    sys.exit(main())
