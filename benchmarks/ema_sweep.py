# USAGE
# python benchmarks/ema_sweep.py --data-dir ../shared/data/mnist-t10k --seeds 1 2

"""Does an EMA of the generator give better digits, and with which decay?

One training run per seed (dcgan_mnist.py's own loop and settings), with
several EMAs of its generator kept side by side (they do not affect
training, so one run serves them all). Every `--eval-every` epochs the
trained generator and each EMA (BatchNorm statistics re-estimated, as
--ema does) are scored with the project's evaluator. Prints FLD, IS and
coverage per epoch for each, mean over seeds, and the change of FLD
against the trained generator; `--json` writes every number.
"""

import argparse
import json
import statistics
import time

import torch
from torch.nn import BCELoss

from common import build_gan                        # sets up the import path
import dcgan_mnist                                  # noqa: E402
from pyimagesearch import data as datasets          # noqa: E402
from pyimagesearch import metrics                   # noqa: E402
from pyimagesearch.ema import GeneratorEMA          # noqa: E402

DEVICE = torch.device("cpu")


class Several:
    """Updates several EMAs from one generator step."""

    def __init__(self, emas):
        self.emas = emas

    def update(self, gen):
        for ema in self.emas.values():
            ema.update(gen)


class NoBar:
    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass


def parse_variant(text):
    """'0.995': warm-up on, BatchNorm statistics re-estimated; suffix 'n': no
    warm-up; suffix 'c': BatchNorm statistics copied from the live generator.
    Returns GeneratorEMA's keyword arguments."""
    decay = text.rstrip("nc")
    flags = text[len(decay):]
    return {"decay": float(decay), "warmup": "n" not in flags,
            "bn": "copy" if "c" in flags else "recalibrate"}


def run_seed(seed, images, scorer, args):
    gen, disc, genOpt, discOpt, layout = build_gan(seed, args.epochs, DEVICE)
    emas = {v: GeneratorEMA(gen, **parse_variant(v)) for v in args.variants}
    noiseGen = torch.Generator().manual_seed(seed)
    shuffleGen = torch.Generator().manual_seed(seed)
    scores = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        dcgan_mnist.train_one_epoch(gen, disc, genOpt, discOpt, BCELoss(), images,
                                    args.batch_size, DEVICE, noiseGen, shuffleGen, NoBar(),
                                    memoryFormat=layout, ema=Several(emas), genCore=gen)
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            row = {"epoch": epoch + 1, "live": scorer.score(gen)}
            for v, ema in emas.items():
                row[v] = scorer.score(ema.recalibrate())
            scores.append(row)
            print(f"seed {seed} epoch {epoch + 1}: live FLD {row['live']['fld']:.2f}  " +
                  "  ".join(f"{v} {row[v]['fld']:.2f}" for v in args.variants) +
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--eval-every", type=int, default=2)
    ap.add_argument("--eval-num", type=int, default=10_000)
    ap.add_argument("--eval-seed", type=int, default=42,
                    help="the evaluator's seed and the samples' noise; 42, as "
                         "dcgan_mnist.py --eval-every with its default seed")
    ap.add_argument("--variants", nargs="+",
                    default=["0.99", "0.995", "0.998", "0.999", "0.995n", "0.999n"],
                    help="EMA decays; suffix 'n': no warm-up, 'c': BatchNorm "
                         "statistics copied from the live generator")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    imageSet = datasets.load_dataset(args.dataset, args.data_dir, allowDownload=False)
    scorer = metrics.Scorer(imageSet, seed=args.eval_seed, num=args.eval_num)
    steps = args.epochs * -(-len(imageSet) // args.batch_size)
    print(f"{len(imageSet):,} images, {args.epochs} epochs, {steps:,} generator steps; "
          f"real-data FLD floor {scorer.realFld:.3f}", flush=True)
    runs = {seed: run_seed(seed, imageSet.images, scorer, args) for seed in args.seeds}

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
        with open(args.json, "w") as f:
            json.dump({"setup": vars(args), "real_fld": scorer.realFld,
                       "runs": {str(k): v for k, v in runs.items()}, "mean": table}, f, indent=2)


if __name__ == "__main__":
    main()
