# USAGE
# python benchmarks/ema_sweep.py --data-dir ../shared/data/mnist-t10k --seeds 1 2

"""Does an EMA of the generator give better digits, and with which decay?

For each seed and decay, dcgan_mnist.py trains with `--ema DECAY
--eval-every K` (the EMA does not touch training, so every decay sees the
same run of the trained generator); its metrics.json holds FLD, IS and
coverage of the trained generator and of the EMA (BatchNorm statistics
re-estimated) at every evaluation, from the evaluator seeded with the
training seed. Prints them per epoch, mean over seeds, with the change of
FLD against the trained generator; `--json` writes every number.
(Sweeps 1 and 2 in benchmarks/results/ also compared EMAs without warm-up
and with copied BatchNorm statistics, which the script does not offer;
they were run with the loop of an earlier version.)
"""

import argparse
import json
import os
import shutil
import statistics
import time

from common import run_script                       # sets up the import path
from pyimagesearch import files                     # noqa: E402


def run_seed(seed, args):
    """Every evaluated epoch: {"epoch", "live": scores, DECAY: scores, ...}."""
    rows = {}
    for decay in args.variants:
        start = time.perf_counter()
        _, out, _ = run_script("--data-dir", args.data_dir, "--dataset", args.dataset,
                               "--no-download", "--epochs", args.epochs,
                               "--batch-size", args.batch_size, "--seed", seed,
                               "--ema", decay, "--eval-every", args.eval_every,
                               "--eval-num", args.eval_num, "--device", args.device)
        with open(os.path.join(out, "metrics.json")) as f:
            evaluated = json.load(f)["epochs"]
        shutil.rmtree(out, ignore_errors=True)
        for scores in evaluated:
            row = rows.setdefault(scores["epoch"], {"epoch": scores["epoch"], "live": scores})
            row[decay] = scores["ema"]
        last = rows[max(rows)]
        print(f"seed {seed} --ema {decay}: last epoch live FLD {last['live']['fld']:.2f}, "
              f"EMA {last[decay]['fld']:.2f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return [rows[e] for e in sorted(rows)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--eval-every", type=int, default=2)
    ap.add_argument("--eval-num", type=int, default=10_000)
    ap.add_argument("--variants", nargs="+", default=["0.99", "0.995", "0.998", "0.999"],
                    help="EMA decays (default: 0.99 0.995 0.998 0.999)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    runs = {seed: run_seed(seed, args) for seed in args.seeds}

    names = ["live"] + args.variants
    print(f"\nmean over seeds {args.seeds}: FLD (change vs live) / IS / coverage")
    table = []
    for i, row in enumerate(runs[args.seeds[0]]):
        cells = {}
        for name in names:
            values = {k: statistics.mean(runs[s][i][name][k] for s in args.seeds)
                      for k in ("fld", "inception_score", "coverage")}
            cells[name] = values
        line = f"epoch {row['epoch']:3d}: "
        for name in names:
            change = cells[name]["fld"] / cells["live"]["fld"] - 1
            line += (f" {name} {cells[name]['fld']:.2f}"
                     + ("" if name == "live" else f" ({change:+.0%})")
                     + f"/{cells[name]['inception_score']:.2f}/{cells[name]['coverage']:.1f}")
        print(line)
        table.append({"epoch": row["epoch"], **cells})
    if args.json:
        files.write_json(args.json, {"setup": vars(args),
                                     "runs": {str(k): v for k, v in runs.items()}, "mean": table})


if __name__ == "__main__":
    main()
