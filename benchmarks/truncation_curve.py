# USAGE
# python benchmarks/truncation_curve.py --checkpoint pretrained/mnist-conditional --data-dir mnist15k \
#     --out-json benchmarks/results/truncation-shipped.json --plot docs/images/truncation-curve.png
# python benchmarks/truncation_curve.py --checkpoint run/checkpoint.pt --data-dir mnist15k \
#     --truncations 1.5 --export pretrained/mnist-conditional --default 1.5

"""The truncation curve of a conditional generator by two judges: the
project's evaluator (the share drawn as asked, FLD, precision, recall:
evaluate.py --truncation-curve) and the referee (benchmarks/referee.py: the
share drawn as asked by a stronger classifier, and the FLD in its features),
1,000 digits a class at each T from the same seed. Prints one table, writes
JSON, and optionally a plot and an export whose config.json (and so its
model card) carries the curve and the recommended T (--default)."""

import argparse
import json
import os
import sys

import common  # noqa: F401  (sets up the import path)
import referee
from pyimagesearch import files
from pyimagesearch.checkpoint import build_generator, load, trained_with
from pyimagesearch.cli import truncation
from pyimagesearch.data import load_training_data
from pyimagesearch.models import class_count
from pyimagesearch.quality import metrics
from pyimagesearch.sharing import export

DEFAULT_CURVE = (0.75, 1.0, 1.25, 1.5, 2.0, 2.5)


def curve_rows(checkpoint, dataDir, truncations, perClass=1000, seed=0, log=print):
    """[{truncation, the evaluator's as_asked, worst_class, worst_as_asked,
    fld, precision, recall, inception_score, and the referee's
    referee_as_asked, referee_worst_class, referee_worst_as_asked,
    referee_fld}], untruncated first, then T from high to low."""
    saved = load(checkpoint)
    gen, description = build_generator(checkpoint, "auto", "cpu", loaded=saved)
    numClasses = class_count(gen)
    if not numClasses:
        sys.exit(f"{checkpoint}: a conditional generator is needed (the referee reads classes)")
    trained = trained_with(saved, checkpoint, gen).given("mnist", dataDir, "auto")
    imageSet, trainedOn = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                             allowDownload=False, log=log)
    log(f"[INFO] {description}: {perClass:,} digits a class at each T, seed {seed}")
    scorer = metrics.Scorer(imageSet, seed=seed, device="cpu", num=perClass * numClasses,
                            log=log, trainedOn=trainedOn)
    rows = metrics.truncation_curve(scorer, gen, truncations, log=log)
    judge, accuracy, realFeatures, _, _ = referee.load_or_train(imageSet, log=log)
    log(f"[INFO] the evaluator: {scorer.accuracy:.2%} right on held-out real digits; the referee: "
        f"{accuracy:.2%} on the digits it never saw")
    for row in rows:
        said = referee.judge(judge, gen, perClass, seed, row["truncation"], realFeatures)
        row.update({"referee_as_asked": said["as_asked"],
                    "referee_worst_class": str(said["worst_class"]),
                    "referee_worst_as_asked": said["worst_as_asked"],
                    "referee_fld": said["fld"],
                    "referee_per_class": said["per_class"]})
    return rows, {"evaluator_accuracy": scorer.accuracy, "referee_accuracy": accuracy,
                  "per_class": perClass, "seed": seed, "checkpoint": os.fspath(checkpoint)}, saved, gen


def table(rows):
    lines = [f"{'T':>5}  {'as asked':>8}  {'worst':>10}  {'referee':>8}  {'worst':>10}  "
             f"{'FLD':>7}  {'x untr.':>7}  {'precision':>9}  {'recall':>6}  {'ref. FLD':>8}"]
    base = rows[0]["fld"]
    for r in rows:
        T = "none" if r["truncation"] is None else f"{r['truncation']:g}"
        lines.append(f"{T:>5}  {r['as_asked']:>8.2%}  {r['worst_class']}: {r['worst_as_asked']:>6.1%}  "
                     f"{r['referee_as_asked']:>8.2%}  {r['referee_worst_class']}: "
                     f"{r['referee_worst_as_asked']:>6.1%}  {r['fld']:>7.2f}  {r['fld'] / base:>7.2f}  "
                     f"{r['precision']:>9.3f}  {r['recall']:>6.3f}  {r['referee_fld']:>8.2f}")
    return lines


def plot(rows, path):
    import matplotlib                # import here: only --plot draws
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = rows[1:]                 # the finite T, high to low
    T = [r["truncation"] for r in shown]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label, style in (("as_asked", "evaluator", "o-"), ("referee_as_asked", "referee", "s-"),
                              ("worst_as_asked", "evaluator, worst class", "o--"),
                              ("referee_worst_as_asked", "referee, worst class", "s--")):
        left.plot(T, [100 * r[key] for r in shown], style, label=label)
        left.axhline(100 * rows[0][key], color=left.lines[-1].get_color(), lw=0.6, ls=":")
    left.set_xlabel("truncation T (dotted: untruncated)")
    left.set_ylabel("% drawn as asked")
    left.invert_xaxis()
    left.legend(fontsize=8)
    right.plot(T, [r["fld"] for r in shown], "o-", label="FLD (evaluator)")
    right.axhline(rows[0]["fld"], color="C0", lw=0.6, ls=":")
    right.set_xlabel("truncation T (dotted: untruncated)")
    right.set_ylabel("FLD (lower: closer to the real digits)")
    twin = right.twinx()
    twin.plot(T, [r["recall"] for r in shown], "s-", color="C1", label="recall")
    twin.plot(T, [r["precision"] for r in shown], "^-", color="C2", label="precision")
    twin.set_ylabel("precision, recall")
    right.invert_xaxis()
    right.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower left", fontsize=8)
    fig.suptitle("fidelity <- lower T | the truncation trick | higher T -> variety", fontsize=10)
    fig.tight_layout()
    fig.savefig(path + ".partial.png", dpi=100)
    os.replace(path + ".partial.png", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data-dir", required=True, help="the real digits (MNIST IDX files)")
    ap.add_argument("--truncations", type=truncation, nargs="+", default=list(DEFAULT_CURVE),
                    help=f"(default: {' '.join(map(str, DEFAULT_CURVE))})")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-json", default=None)
    ap.add_argument("--plot", default=None, help="also draw the curve into this PNG")
    ap.add_argument("--export", metavar="DIR", default=None,
                    help="also export the generator into the new folder DIR with the curve")
    ap.add_argument("--default", type=truncation, default=None,
                    help="with --export: the recommended T written into config.json")
    ap.add_argument("--curve-json", default=None,
                    help="take the curve from this earlier --out-json of the same checkpoint "
                         "instead of measuring it again (to export once T is chosen)")
    args = ap.parse_args()

    def log(line):
        print(line, file=sys.stderr, flush=True)

    if args.curve_json:
        with open(args.curve_json, encoding="utf-8") as f:
            about = json.load(f)
        rows = about.pop("curve")
        saved = load(args.checkpoint)
        gen, _ = build_generator(args.checkpoint, "auto", "cpu", loaded=saved)
    else:
        rows, about, saved, gen = curve_rows(args.checkpoint, args.data_dir, args.truncations,
                                             args.per_class, args.seed, log)
    for line in table(rows):
        print(line)
    if args.out_json:
        files.write_json(args.out_json, {**about, "curve": rows})
    if args.plot:
        plot(rows, args.plot)
    if args.export:
        _, description = build_generator(args.checkpoint, "auto", "cpu", loaded=saved)
        config = export.describe_export(saved, args.checkpoint, gen, description, args.default)
        config["truncation_curve"] = [{k: v for k, v in r.items() if k != "referee_per_class"}
                                      for r in rows]
        done = export.export(args.export, gen, config)
        log(f"[INFO] exported to {args.export}; ONNX matches PyTorch to {done['onnx_difference']:.1e}")


if __name__ == "__main__":
    main()
