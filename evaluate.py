# USAGE
# python evaluate.py --checkpoint output/checkpoint.pt
# python evaluate.py --checkpoint output/generator.pth --data-dir ~/datasets/mnist

"""Score a trained generator with the project's digit evaluator: Fréchet
distance in its feature space (FLD), Inception Score, precision, recall,
density, coverage, the classes covered, and a memorisation check. A
conditional generator (--conditional) is drawn class-balanced and also
scored per class: how often the evaluator agrees with the class asked for
(overall and the worst class), each class's FLD and recall, their means.

The human summary goes to standard error; the last line of standard output
is one JSON object with every number, for scripts."""

import argparse
import json
import sys

import torch

from pyimagesearch.checkpoint import (build_discriminator, build_generator, load,
                                      trained_with)
from pyimagesearch.cli import (MAX_EVAL_SAMPLES, MIN_EVAL_SAMPLES, add_shape_options,
                               check_shape, check_writable_file, eval_samples, random_seed)
from pyimagesearch.data import load_training_data, to_pixels
from pyimagesearch.data.options import add_real_image_options, check_named_data_dir
from pyimagesearch.device import DEVICES, describe, select_device
from pyimagesearch.errors import UserError, as_script, one_line_errors, printable, raise_terminated
from pyimagesearch.files import replaced, write_image
from pyimagesearch.models import class_count
from pyimagesearch.quality import metrics
from pyimagesearch.quality.cas import add_cas_options, check_cas_arguments, score_cas
from pyimagesearch.quality.selection import recorded_class_names
from pyimagesearch.sampling.options import (add_sampler_options, add_truncation_option,
                                            sampler_settings, truncation, truncation_said)
from pyimagesearch.sampling.rejection import better_samples
from pyimagesearch.training.images import fingerprint
from pyimagesearch.training.output_folder import run_holding
from pyimagesearch.visualize import build_montage

CURVE = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)    # --truncation-curve's T when none given
MAX_CURVE = 20           # --truncation-curve's T at most: each scores --num samples


def build_arg_parser():
    ap = argparse.ArgumentParser(description=__doc__.strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True,
        help="a checkpoint.pt or generator.pth of dcgan_mnist.py, a folder written by "
             "generate.py --export, or a Hugging Face Hub repository id (owner/name)")
    add_real_image_options(ap, "to score against")
    ap.add_argument("--num", type=eval_samples, default=10_000,
        help=f"generated samples to score, from {MIN_EVAL_SAMPLES} to {MAX_EVAL_SAMPLES} "
             "(default: 10000)")
    ap.add_argument("--seed", type=random_seed, default=None,
        help="seed of the samples' noise and of the evaluator (default: the "
             "training run's, read from a checkpoint.pt, so the numbers match "
             "its --eval-every ones; else 0)")
    add_truncation_option(ap, " for the samples scored")
    ap.add_argument("--truncation-curve", type=truncation, nargs="*", metavar="T", default=None,
        help="score the generator at each truncation T and untruncated, and print a table: "
             "the share drawn as asked (overall and the worst class, for a conditional "
             f"generator), FLD, precision and recall; at most {MAX_CURVE} T (default T: "
             f"{' '.join(map(str, CURVE))})")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to run (default: auto)")
    ap.add_argument("--nearest", metavar="PNG", default=None,
        help="also write a montage of the generated digits closest to a training "
             "image, each beside that image (default: off)")
    add_sampler_options(ap, "also score")
    add_cas_options(ap)
    ap.add_argument("--weights", choices=("auto", "ema", "live"), default="auto",
        help="which generator of a checkpoint: its EMA copy or the trained one; "
             "auto = EMA when there is one (default: auto)")
    add_shape_options(ap)
    return ap


NEAREST_PAIRS = 32           # pairs in --nearest's montage: 8 x 8 images


def nearest_montage(images, trainImages, nearest):
    """The NEAREST_PAIRS generated images closest (in the evaluator's
    features) to a training image, closest first, each followed by it."""
    index, distance = nearest
    order = torch.from_numpy(distance.argsort()[:NEAREST_PAIRS].copy())
    partners = to_pixels(trainImages[torch.from_numpy(index)[order]])
    pairs = torch.stack([images[order], partners], dim=1)     # (pairs, 2, C, S, S)
    return build_montage(pairs.flatten(0, 1))                 # 8x8 grid


def per_class_lines(numbers):
    """A conditional generator's numbers for each class (none without):
    how often the evaluator agrees with the class asked for, its FLD
    against that class's held-out images and its recall."""
    if not numbers:
        return []
    lines = []
    for name, n in numbers["per_class"].items():
        scored = (f", FLD {n['fld']:.3f}, recall {n['recall']:.3f}" if "fld" in n else
                  f", too few samples or held-out images of it for FLD and recall")
        lines.append(f"  class {name}: as asked {n['accuracy']:.1%} of {n['samples']:,}{scored}")
    return lines


def log(line):
    print(line, file=sys.stderr, flush=True)


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    check_named_data_dir(ap, args)
    if args.nearest:
        check_writable_file(ap, "--nearest", args.nearest, ".png")
        if run_holding(args.nearest):          # a run's montage or plot is never replaced
            ap.error(f"argument --nearest: {args.nearest} is one of the files of the training "
                     f"run in {run_holding(args.nearest)}; choose another name")
    if args.truncation_curve and len(args.truncation_curve) > MAX_CURVE:
        ap.error(f"argument --truncation-curve: at most {MAX_CURVE} values of T (each scores "
                 f"{args.num:,} samples), got {len(args.truncation_curve):,}")
    check_cas_arguments(ap, args)
    sampler = "rejection" if args.rejection else "langevin" if args.langevin else None
    if sampler and (args.truncation is not None or args.truncation_curve is not None):
        ap.error(f"argument --{'truncation' if args.truncation is not None else 'truncation-curve'}: "
                 f"not with --{sampler} (each trades variety for fidelity its own way: choose one)")
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")

    saved = load(args.checkpoint)      # read once: weights and training args
    gen, description = build_generator(args.checkpoint, args.weights, DEVICE, loaded=saved)
    check_shape(ap, args, args.checkpoint, gen)
    trained = trained_with(saved, args.checkpoint, gen).given(args.dataset, args.data_dir,
                                                              args.invert)
    seed = args.seed if args.seed is not None else trained.seed
    settings = sampler_settings(args)
    sampler = settings.sampler
    numClasses = class_count(gen)            # --conditional's generators; None: the article's
    if numClasses and sampler:
        raise UserError(f"--{sampler} works with an unconditional generator only: its "
                        "calibration and its verdicts ask the discriminator about samples "
                        f"without their class, and this generator is conditional ({numClasses} "
                        f"classes); score it without --{sampler}")
    disc = build_discriminator(args.checkpoint, saved, DEVICE) if sampler else None
    log(f"[INFO] scoring the {description} on {describe(DEVICE)}")

    imageSet, trainedOn = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                             trained.limit,
                                             allowDownload=not args.no_download, log=log,
                                             size=gen.imageSize, channels=gen.channels,
                                             named=args.data_dir is not None)
    if not metrics.can_score(imageSet):
        raise UserError(f"cannot score {imageSet.source}: {metrics.why_not_scorable(imageSet)}")
    if numClasses and imageSet.classes and len(imageSet.classes) != numClasses:
        raise UserError(f"the generator is told {numClasses} classes and {imageSet.source} has "
                        f"{len(imageSet.classes)}: score it against the data it was trained on "
                        "(--dataset, --data-dir)")
    told = recorded_class_names(saved, numClasses) if numClasses else None
    if told and imageSet.classes and told != [printable(c) for c in imageSet.classes]:
        raise UserError(f"the generator's classes are {', '.join(told)} and {imageSet.source}'s "
                        f"are {', '.join(printable(c) for c in imageSet.classes)}: its class "
                        "asked for would be scored as another; score it against the data it was "
                        "trained on (--dataset, --data-dir)")
    if args.cas:                  # CAS alone (quality/cas.py, docs/synthetic.md)
        numbers = score_cas(gen, saved, args.checkpoint, imageSet, args.cas_num, seed,
                            args.truncation, DEVICE, log, withReal=args.cas_with_real)
        print(json.dumps({"cas": numbers, "checkpoint": args.checkpoint, "weights": description,
                          "data_source": imageSet.source, "seed": seed}))
        return 0
    trainedSha = saved.get("run", {}).get("data_sha256") if isinstance(saved, dict) else None
    if trainedSha and trainedSha != fingerprint(imageSet.head(trained.limit)):
        log(f"[WARNING] the generator was trained on other images than {imageSet.source}: the "
            "memorisation check compares it with images it never saw, so it cannot find copies "
            "(pass the run's own --dataset and --data-dir to check for them)")
    scorer = metrics.Scorer(imageSet, seed=seed, device=DEVICE, num=args.num, log=log,
                            trainedOn=trainedOn)
    if args.truncation is not None:
        log(f"[INFO] the samples' noise {truncation_said(args.truncation)}")
    scores, images, nearest = scorer.score(gen, nearest=True, truncation=args.truncation)
    for line in metrics.summary(scores) + per_class_lines(scores.get("conditioning")):
        log("[RESULT] " + line)
    if sampler:
        # the same generator, sampled with the discriminator's help
        chosen, numbers, what = better_samples(settings, gen, disc, scorer.split.heldOutImages,
                                               DEVICE, seed, args.num, log=log)
        better = {**scorer.score_images(chosen), **numbers}
        log(f"[RESULT] with {what}:")
        for line in metrics.summary(better):
            log("[RESULT]   " + line)
        log(f"[RESULT] FLD {scores['fld']:.3f} -> {better['fld']:.3f} "
            f"({better['fld'] / scores['fld'] - 1:+.1%}), recall {scores['recall']:.3f} -> "
            f"{better['recall']:.3f}")
        scores[sampler] = better
    if args.truncation_curve is not None:
        curve = metrics.truncation_curve(scorer, gen, args.truncation_curve or CURVE, log=log,
                                         scored={args.truncation: scores})
        log(f"[RESULT] the truncation curve ({args.num:,} samples each, seed {seed}"
            + (", class-balanced" if numClasses else "") + "):")
        for line in metrics.curve_lines(curve):
            log("[RESULT]   " + line)
        scores["truncation_curve"] = curve
    if args.nearest:
        said = replaced(args.nearest)
        write_image(args.nearest, nearest_montage(images, trainedOn, nearest))
        log(f"[INFO] wrote {args.nearest}: the {NEAREST_PAIRS} samples closest to a training "
            f"image, each beside it (left: generated, right: training){said}")
    scores.update({"checkpoint": args.checkpoint, "weights": description,
                   "data_source": imageSet.source, "split": scorer.split.description,
                   "seed": seed})
    print(json.dumps(scores))
    return 0


if __name__ == "__main__":
    sys.exit(as_script(main, raise_terminated))    # SIGTERM: one line, status 143
