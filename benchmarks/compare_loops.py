# USAGE
# python benchmarks/compare_loops.py --data-dir ../shared/data/mnist-t10k --epochs 5 --seeds 1 2 3

"""Does dcgan_mnist.py's faster loop train the same as the article's?

For each seed, the article's loop (its statements verbatim, in this
process) and dcgan_mnist.py itself (run as a user runs it, with the same
--seed; also with --amp) train on the same images. Their arithmetic is
arranged differently (one D pass over real + fake, D frozen in the G step,
fused Adam, channels_last, the data path), so they follow different random
trajectories of the same process. The question is whether the
*distribution* of outcomes is the same: this prints, per loop, the mean and
spread over seeds of each epoch's G and D losses and of the final FLD /
Inception Score from the project's evaluator, and the difference of the
loops' means in units of their seed-to-seed spread. Writes JSON with `--json`.
"""

import argparse
import os
import shutil
import statistics
import time

import torch
from torch.nn import BCELoss

from common import article, build_gan, run_script     # sets up the import path
from pyimagesearch import files                      # noqa: E402
from pyimagesearch.checkpoint import build_generator  # noqa: E402
from pyimagesearch.data import load_dataset, to_pixels  # noqa: E402
from pyimagesearch.quality.metrics import Scorer               # noqa: E402

DEVICE = torch.device("cpu")
SCRIPT_FLAGS = {"project": [], "project-amp": ["--amp"]}


def train_article(images, epochs, batchSize, seed):
    """The article's loop: per-epoch mean (G, D) losses and the generator."""
    gen, disc, genOpt, discOpt = build_gan(seed, epochs, DEVICE)
    criterion = BCELoss()
    noiseGen = torch.Generator().manual_seed(seed)
    shuffleGen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        rows = []
        for index in torch.randperm(len(images), generator=shuffleGen).split(batchSize):
            x = to_pixels(images[index])
            noise = torch.randn(len(index), 100, 1, 1, generator=noiseGen)
            errorG, errorD = article.article_step(gen, disc, genOpt, discOpt, criterion, x, noise)
            rows.append(torch.stack([errorG.detach(), errorD.detach()]))
        losses.append(torch.stack(rows).mean(0).tolist())
    return losses, gen


def train_script(loop, args, seed):
    """dcgan_mnist.py: its per-epoch losses (run.json) and its generator."""
    record, out, _ = run_script("--data-dir", args.data_dir, "--dataset", args.dataset,
                                "--no-download", "--epochs", args.epochs,
                                "--batch-size", args.batch_size, "--seed", seed,
                                "--device", "cpu", *SCRIPT_FLAGS[loop])
    gen, _ = build_generator(os.path.join(out, "generator.pth"))
    shutil.rmtree(out, ignore_errors=True)
    return [[e["generator"], e["discriminator"]] for e in record["losses"]], gen


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--eval-num", type=int, default=10_000)
    ap.add_argument("--loops", nargs="+", default=["article", "project", "project-amp"],
                    help="article, project, project-amp (bf16 autocast, --amp)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    imageSet = load_dataset(args.dataset, args.data_dir, allowDownload=False)
    scorer = Scorer(imageSet, seed=0, num=args.eval_num)
    results = {loop: [] for loop in args.loops}
    for seed in args.seeds:
        for loop in results:
            start = time.perf_counter()
            if loop == "article":
                losses, gen = train_article(imageSet.images, args.epochs, args.batch_size, seed)
            else:
                losses, gen = train_script(loop, args, seed)
            scores = scorer.score(gen)
            results[loop].append({"seed": seed, "losses": losses, "fld": scores["fld"],
                                  "inception_score": scores["inception_score"],
                                  "coverage": scores["coverage"],
                                  "seconds": time.perf_counter() - start})
            print(f"seed {seed} {loop:8s} last epoch G {losses[-1][0]:.4f} D {losses[-1][1]:.4f} "
                  f"FLD {scores['fld']:.2f} IS {scores['inception_score']:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    def describe(values):
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return mean, spread

    print(f"\n{len(args.seeds)} seeds, {len(imageSet):,} images, {args.epochs} epochs, "
          f"batch {args.batch_size}: mean ± sd over seeds; z = difference from the "
          f"{args.loops[0]} loop's mean / pooled sd")
    rowsOut = []
    names = [f"epoch {e + 1} {which}" for e in range(args.epochs) for which in ("G", "D")]
    header = "".join(f"{loop:>22s}" for loop in results) + "".join(
        f"   z({loop})" for loop in list(results)[1:])
    print(f"{'':18s}{header}")
    for i, name in enumerate(names + ["FLD", "Inception Score"]):
        row = {"what": name}
        for loop, runs in results.items():
            if i < len(names):
                e, k = divmod(i, 2)
                values = [r["losses"][e][k] for r in runs]
            else:
                values = [r["fld" if name == "FLD" else "inception_score"] for r in runs]
            row[loop] = describe(values)
        (ma, sa) = row[args.loops[0]]
        line = f"{name:18s}" + "".join(f"{m:12.4f} ± {sd:7.4f}" for m, sd in (row[l] for l in args.loops))
        for loop in args.loops[1:]:
            mp, sp = row[loop]
            pooled = ((sa ** 2 + sp ** 2) / 2) ** 0.5
            row[f"z_{loop}"] = (mp - ma) / pooled if pooled else 0.0
            line += f" {row[f'z_{loop}']:+9.2f}"
        rowsOut.append(row)
        print(line)
    if args.json:
        files.write_json(args.json, {"setup": vars(args), "runs": results, "table": rowsOut})


if __name__ == "__main__":
    main()
