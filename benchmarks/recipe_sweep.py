"""The training recipes against the article's (docs/recipes.md): each
variant trained by dcgan_mnist.py itself for --epochs on --data-dir, once a
seed, scored at the end by the run's own --eval-every (10,000 samples);
prints FLD, precision, recall, coverage, classes covered and seconds per
epoch, each run's and the mean per variant, and writes them to JSON.

    python benchmarks/make_mnist15k.py --test-dir ~/data/mnist-t10k --output /tmp/mnist15k
    python benchmarks/recipe_sweep.py --data-dir /tmp/mnist15k --seeds 1 2 3 \\
        --variants article top-k cr diffaug ttur better
    python benchmarks/recipe_sweep.py --data-dir /tmp/mnist15k --seeds 1 2 3 \\
        --variants conditional conditional-better article \\
        --out-json benchmarks/results/conditional-cpu-2core.json     (docs/conditional.md)

A variant is a name below or "name=OPTIONS" ("mine=--cr 2 --top-k 0.6").
Runs already in --out-json are not run again, so a sweep can be continued.
"""

import argparse
import json
import os
import shutil
import statistics

from common import ROOT, run_script

VARIANTS = {
    "article": [],
    "top-k": ["--top-k", "0.5"],
    "cr": ["--cr", "1", "--cr-shift", "1"],
    "diffaug": ["--diffaug", "translation,cutout"],
    "ttur": ["--lr-d", "0.0001", "--lr-g", "0.0002"],
    "better": ["--recipe", "better"],
    "conditional": ["--conditional"],
    "conditional-better": ["--conditional", "--recipe", "better"],
}
COLUMNS = ("fld", "precision", "recall", "coverage", "classes_covered")


def variant(text):
    if "=" in text:
        name, options = text.split("=", 1)
        return name, options.split()
    return text, VARIANTS[text]


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="the MNIST IDX folder to train on")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per run (default: 20)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="(default: 1 2 3)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), help="(default: all)")
    ap.add_argument("--extra", default="", help="options for every run, e.g. '--ema 0.99'")
    ap.add_argument("--keep", metavar="DIR", help="keep each run's output folder in DIR/NAME-sSEED "
                    "(for generate.py or evaluate.py afterwards); default: delete it")
    ap.add_argument("--out-json", default=os.path.join(ROOT, "benchmarks", "results",
                                                        "recipe_sweep-cpu-2core.json"))
    args = ap.parse_args()
    results = {}
    if os.path.exists(args.out_json):
        with open(args.out_json) as f:
            results = json.load(f)
    for text in args.variants:
        name, options = variant(text)
        for seed in args.seeds:
            key = f"{name} seed {seed}"
            if key in results:
                continue
            record, folder, peak = run_script(
                "--data-dir", args.data_dir, "--epochs", args.epochs, "--seed", seed,
                "--eval-every", args.epochs, *options, *args.extra.split())
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.move(folder, os.path.join(args.keep, f"{name}-s{seed}"))
            else:
                shutil.rmtree(folder)
            final = record["metrics"][-1]
            results[key] = {"variant": name, "options": options + args.extra.split(),
                            "seed": seed, "recipe": record.get("recipe"),
                            "seconds_per_epoch": statistics.median(record["seconds_per_epoch"]),
                            "peak_rss_mib": peak, **{c: final[c] for c in COLUMNS},
                            "conditioning": final.get("conditioning")}
            with open(args.out_json, "w") as f:
                json.dump(results, f, indent=1)
            row = results[key]
            print(f"{key:24s} FLD {row['fld']:7.1f}  precision {row['precision']:.3f}  recall "
                  f"{row['recall']:.3f}  coverage {row['coverage']:.3f}  classes "
                  f"{row['classes_covered']}  {row['seconds_per_epoch']:.1f} s/epoch"
                  + conditioning_said(row), flush=True)
    print("\nmeans by variant:")
    for name in dict.fromkeys(r["variant"] for r in results.values()):
        rows = [r for r in results.values() if r["variant"] == name]
        means = {c: statistics.mean(r[c] for r in rows) for c in COLUMNS + ("seconds_per_epoch",)}
        print(f"{name:12s} ({len(rows)} seeds) FLD {means['fld']:7.1f}  precision "
              f"{means['precision']:.3f}  recall {means['recall']:.3f}  coverage "
              f"{means['coverage']:.3f}  classes {means['classes_covered']:.1f}  "
              f"{means['seconds_per_epoch']:.1f} s/epoch"
              + (f"  as asked {statistics.mean(r['conditioning']['accuracy'] for r in rows):.1%}"
                 f" (worst class {statistics.mean(r['conditioning']['worst_accuracy'] for r in rows):.1%},"
                 f" class FLD {statistics.mean(r['conditioning']['mean_class_fld'] for r in rows):.1f})"
                 if all(r.get("conditioning") for r in rows) else ""))


def conditioning_said(row):
    """--conditional's numbers of one run ("" without)."""
    numbers = row.get("conditioning")
    if not numbers:
        return ""
    return (f"  as asked {numbers['accuracy']:.1%} (worst {numbers['worst_class']} "
            f"{numbers['worst_accuracy']:.1%}), class FLD {numbers['mean_class_fld']:.1f}, "
            f"class recall {numbers['mean_class_recall']:.3f}")


if __name__ == "__main__":
    main()
