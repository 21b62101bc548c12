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
import io
import json
import math
import os
import sys

import referee
from common import check_output_file     # (common also sets up the import path)
from pyimagesearch import files
from pyimagesearch.checkpoint import build_generator, load, trained_with
from pyimagesearch.cli import check_output_folder, count_up_to, random_seed, truncation
from pyimagesearch.data import load_training_data
from pyimagesearch.errors import (UserError, as_script, one_line_errors, printable,
                                  raise_terminated, shorten)
from pyimagesearch.exported import config_problem
from pyimagesearch.models import class_count
from pyimagesearch.noise import MAX_TRUNCATION, MIN_TRUNCATION
from pyimagesearch.quality import metrics
from pyimagesearch.sampling.dataset import weights_sha256
from pyimagesearch.sharing import export

DEFAULT_CURVE = (0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
# an --out-json is a few KiB; a bigger --curve-json is none of ours (refused unread)
MAX_CURVE_BYTES = 1 << 20
MAX_CURVE_ROWS = 50             # as many as config.json's truncation_curve holds
CURVE_SHARES = ("as_asked", "worst_as_asked", "referee_as_asked", "referee_worst_as_asked",
                "precision", "recall")
CURVE_DISTANCES = ("fld", "referee_fld")
CURVE_NAMES = ("worst_class", "referee_worst_class")


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
                                             allowDownload=False, log=log, named=True)
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
                  "per_class": perClass, "seed": seed, "checkpoint": os.fspath(checkpoint),
                  "generator_sha256": weights_sha256(gen)}, saved, gen


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def curve_problem(about):
    """What is wrong with an --out-json's content `about` as --curve-json,
    in one line naming the row and field; None when the table, the plot and
    the export can read it."""
    if not isinstance(about, dict):
        return "it is not a JSON object"
    rows = about.get("curve")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_CURVE_ROWS:
        return f"its 'curve' is not a list of 1 to {MAX_CURVE_ROWS} rows"
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return f"row {i + 1} of its 'curve' is not a JSON object"
        T = row.get("truncation")
        if i == 0 and T is not None:
            return "the first row of its 'curve' is not the untruncated one (truncation null)"
        if i > 0 and not (_is_number(T) and MIN_TRUNCATION <= T <= MAX_TRUNCATION):
            return (f"row {i + 1} of its 'curve': 'truncation' must be a number from "
                    f"{MIN_TRUNCATION:g} to {MAX_TRUNCATION:g}")
        for key in CURVE_SHARES:
            if not (_is_number(row.get(key)) and 0 <= row[key] <= 1):
                return f"row {i + 1} of its 'curve': {key!r} must be a number from 0 to 1"
        for key in CURVE_DISTANCES:
            if not (_is_number(row.get(key)) and 0 <= row[key] <= 1e9):
                return f"row {i + 1} of its 'curve': {key!r} must be a number from 0 to 1e9"
        for key in CURVE_NAMES:
            if not isinstance(row.get(key), str) or len(row[key]) > 200:
                return f"row {i + 1} of its 'curve': {key!r} must be a class name (a string)"
    return None


def read_curve(path, gen):
    """The earlier --out-json at `path`: (its fields, its curve), checked:
    UserError in one line when it cannot be read, is not such a file, or
    records another generator's weights than `gen`'s."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CURVE_BYTES + 1)
    except OSError as e:
        raise UserError(f"--curve-json {path}: cannot read it ({e.strerror or e})") from None
    if len(data) > MAX_CURVE_BYTES:
        raise UserError(f"--curve-json {path}: over {MAX_CURVE_BYTES >> 20} MiB, not an "
                        "--out-json of this script (a few KiB)")
    try:
        about = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise UserError(f"--curve-json {path}: not JSON ({shorten(e, 120)})") from None
    problem = curve_problem(about)
    if problem:
        raise UserError(f"--curve-json {path}: not an --out-json of this script: {problem}")
    recorded, ours = about.get("generator_sha256"), weights_sha256(gen)
    if recorded is None:
        # NOTE: files written before the hash was recorded: trusted as they say
        print(f"[INFO] {path} records no generator_sha256 (written before it was): its curve is "
              f"trusted to be the --checkpoint's; it says it measured "
              f"{printable(shorten(about.get('checkpoint'), 200))}", file=sys.stderr)
    elif recorded != ours:
        raise UserError(f"--curve-json {path}: measured on other weights (SHA-256 "
                        f"{printable(shorten(recorded, 70))}) than the --checkpoint's ({ours}); "
                        "measure the curve again, or give the checkpoint it was measured on")
    return about, about.pop("curve")


def table(rows):
    lines = [f"{'T':>5}  {'as asked':>8}  {'worst':>10}  {'referee':>8}  {'worst':>10}  "
             f"{'FLD':>7}  {'x untr.':>7}  {'precision':>9}  {'recall':>6}  {'ref. FLD':>8}"]
    base = rows[0]["fld"]
    for r in rows:
        T = "none" if r["truncation"] is None else f"{r['truncation']:g}"
        ratio = f"{r['fld'] / base:>7.2f}" if base > 0 else f"{'-':>7}"    # (an FLD of 0: no ratio)
        lines.append(f"{T:>5}  {r['as_asked']:>8.2%}  {printable(r['worst_class'])}: "
                     f"{r['worst_as_asked']:>6.1%}  {r['referee_as_asked']:>8.2%}  "
                     f"{printable(r['referee_worst_class'])}: "
                     f"{r['referee_worst_as_asked']:>6.1%}  {r['fld']:>7.2f}  {ratio}  "
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    files.write_bytes(path, buffer.getvalue())        # whole or not at all


def check_arguments(ap, args):
    """The output names, before any work (the rule of docs/usage.md: a
    training run's own files are never written, nor a folder that holds
    files exported into)."""
    if args.out_json is not None:
        check_output_file(ap, "--out-json", args.out_json, ".json")
    if args.plot is not None:
        check_output_file(ap, "--plot", args.plot, ".png")
    if args.export:
        check_output_folder(ap, args.export, "--export")
        if export.folder_problem(args.export):
            ap.error(f"argument --export: {export.folder_problem(args.export)}")
    elif args.default is not None:
        ap.error("argument --default: the T written into an export: give --export DIR too")


def export_config(saved, checkpoint, gen, default, rows):
    """config.json of the export, the curve in it (class names escaped, as
    the schema takes them); UserError when it breaks the schema."""
    _, description = build_generator(checkpoint, "auto", "cpu", loaded=saved)
    config = export.describe_export(saved, checkpoint, gen, description, default)
    config["truncation_curve"] = [
        {k: printable(v) if k in CURVE_NAMES else v for k, v in r.items()
         if k != "referee_per_class"} for r in rows]
    problem = config_problem(config)
    if problem:
        raise UserError(f"--export: the curve cannot go into config.json: {problem}; nothing "
                        "exported")
    return config


def add_judging_arguments(ap, truncations):
    """--checkpoint, --data-dir, --truncations (default: `truncations`),
    --per-class and --seed: what curve_rows takes, for this script and
    truncation_variants.py."""
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data-dir", required=True, help="the real digits (MNIST IDX files)")
    ap.add_argument("--truncations", type=truncation, nargs="+", default=list(truncations),
                    help=f"(default: {' '.join(f'{T:g}' for T in truncations)})")
    ap.add_argument("--per-class", type=count_up_to(referee.MAX_PER_CLASS), default=1000,
                    help=f"digits of each class at each T, 1 to {referee.MAX_PER_CLASS:,} "
                         "(default: 1000)")
    ap.add_argument("--seed", type=random_seed, default=0, help="seed of the noise (default: 0)")


@one_line_errors
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    add_judging_arguments(ap, DEFAULT_CURVE)
    ap.add_argument("--out-json", default=None,
                    help="also write the curve to this .json file (never a training run's own; "
                         "a file of that name is replaced, and the line says so)")
    ap.add_argument("--plot", default=None,
                    help="also draw the curve into this .png file (never a training run's own; "
                         "a file of that name is replaced, and the line says so)")
    ap.add_argument("--export", metavar="DIR", default=None,
                    help="also export the generator into the new folder DIR with the curve")
    ap.add_argument("--default", type=truncation, default=None,
                    help="with --export: the recommended T written into config.json")
    ap.add_argument("--curve-json", default=None,
                    help="take the curve from this earlier --out-json of the same checkpoint "
                         "instead of measuring it again (to export once T is chosen); checked: "
                         "it must be such a file, and the SHA-256 of the weights it records must "
                         "be the --checkpoint's (a file that records none is trusted, and said)")
    args = ap.parse_args(argv)
    check_arguments(ap, args)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    if args.curve_json:
        saved = load(args.checkpoint)
        gen, _ = build_generator(args.checkpoint, "auto", "cpu", loaded=saved)
        about, rows = read_curve(args.curve_json, gen)
    else:
        rows, about, saved, gen = curve_rows(args.checkpoint, args.data_dir, args.truncations,
                                             args.per_class, args.seed, log)
    config = export_config(saved, args.checkpoint, gen, args.default, rows) if args.export else None
    for line in table(rows):
        print(line)
    if args.out_json is not None:
        said = files.replaced(args.out_json)
        files.write_json(args.out_json, {**about, "curve": rows})
        log(f"[INFO] wrote {args.out_json}{said}")
    if args.plot is not None:
        said = files.replaced(args.plot)
        plot(rows, args.plot)
        log(f"[INFO] wrote {args.plot}{said}")
    if args.export:
        done = export.export(args.export, gen, config)
        log(f"[INFO] exported to {args.export}; ONNX matches PyTorch to {done['onnx_difference']:.1e}")


if __name__ == "__main__":
    sys.exit(as_script(main, raise_terminated))    # SIGTERM: one line, status 143
