# USAGE
# python generate.py --output samples.png      (the shipped conditional generator)
# python generate.py --checkpoint output/checkpoint.pt --output samples.png
# python generate.py --checkpoint output/generator.pth --output samples.png \
#     --num 100 --individual digits/ --interpolate walk.gif
# python generate.py --checkpoint output/checkpoint.pt --output sevens.png --digit 7
# python generate.py --checkpoint output/checkpoint.pt --output kept.png --rejection
# python generate.py --checkpoint output/checkpoint.pt --output moved.png --langevin
# python generate.py --checkpoint output/checkpoint.pt --output walk.png --morph 3 8
# python generate.py --checkpoint output/checkpoint.pt --export my-dcgan
# python generate.py --checkpoint conditional/checkpoint.pt --output sevens.png --digit 7 \
#     --morph 3 8     (a --conditional run: told the class, no evaluator)

"""Draw new digits from a trained generator: a montage, one PNG per digit,
a GIF walking the latent space; optionally only the samples the
discriminator keeps (rejection sampling), samples it moved (latent
Langevin), or only one digit; or export it for sharing (safetensors with
config.json in the Hugging Face Hub's layout, ONNX, a model card).

A conditional generator (dcgan_mnist.py --conditional) is told the class
instead of being filtered: --digit draws that class directly, the montage
has one class a row, --morph walks from one class to the other with the
same noise (docs/conditional.md)."""

import argparse
import os
import shlex
import sys

from pyimagesearch.cli import (add_shape_options, check_output_folder, check_shape,
                               check_writable_file, confidence, count_up_to, positive_int,
                               random_seed)
from pyimagesearch.data.options import add_real_image_options, check_named_data_dir
from pyimagesearch.device import DEVICES, select_device
from pyimagesearch.errors import as_script, one_line_errors, raise_terminated
from pyimagesearch.noise import MAX_TRUNCATION
from pyimagesearch.quality.selection import MIN_CONFIDENCE
from pyimagesearch.quality.selection import recorded_class_names
from pyimagesearch.sampling.dataset import (DEFAULT_NUM as DATASET_NUM, DataSet,
                                            add_dataset_options, check_dataset_arguments,
                                            write_folder)
from pyimagesearch.sampling.options import (add_sampler_options, add_truncation_option,
                                            sampler_settings)
from pyimagesearch.sharing import drawing, export
from pyimagesearch.sharing.drawing import (DEFAULT_NUM, MAX_NUM, MAX_STEPS, MAX_WALK_IMAGES,
                                           default_num, morph_gif)
from pyimagesearch.training.output_folder import run_folder_above, run_holding


def build_arg_parser():
    ap = argparse.ArgumentParser(description=__doc__.strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None,
        help="a checkpoint.pt or generator.pth of dcgan_mnist.py, a generator "
             "state_dict saved by the article's code, a folder written by --export, or "
             "a Hugging Face Hub repository id (owner/name) holding one (default: the "
             "shipped conditional generator, pretrained/mnist-conditional)")
    ap.add_argument("--output", default=None,
        help="the montage to write, e.g. samples.png (required unless --export)")
    ap.add_argument("--export", metavar="DIR", default=None,
        help="write the generator into the new folder DIR: model.safetensors and "
             "config.json (huggingface_hub's from_pretrained loads them), generator.onnx "
             "(checked against PyTorch) and a model card, README.md (default: off)")
    ap.add_argument("--num", type=positive_int, default=None,
        help="how many digits, at most 10000 (100000 with --write-dataset); the montage is the smallest square "
             f"grid that holds them (default: {DEFAULT_NUM}, an 8x8 grid; a conditional "
             "generator's, one row per class: 100 for ten classes, a 10x10 grid)")
    ap.add_argument("--seed", type=random_seed, default=0,
        help="seed of the noise: the same seed gives the same digits (default: 0)")
    add_truncation_option(ap, " for the montage, --digit, --morph, --individual, "
                              "--interpolate and --write-dataset (with --export: the T the "
                              "folder recommends, the demo's default)",
                          default=f"an exported folder's recommended T, else off; "
                                  f"{MAX_TRUNCATION:g} draws untruncated")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to run the generator (default: auto)")
    ap.add_argument("--weights", choices=("auto", "ema", "live"), default="auto",
        help="which generator of a checkpoint: its EMA copy (--ema runs) or the "
             "trained one; auto = EMA when there is one (default: auto)")
    ap.add_argument("--individual", metavar="DIR", default=None,
        help="also write each digit as DIR/digit_0000.png, ... (a conditional "
             "generator's: DIR/digit_0000_class_7.png, its class number) (default: off)")
    ap.add_argument("--interpolate", metavar="GIF", default=None,
        help="also write a GIF walking the latent space of every cell between "
             "random points by spherical interpolation, at most "
             f"{MAX_WALK_IMAGES} digits in all (--keyframes x --steps x --num); a "
             "conditional generator's cells keep the montage's classes (default: off)")
    ap.add_argument("--keyframes", type=positive_int, default=5,
        help="random points each cell of the walk visits; with --interpolate, "
             f"--keyframes x --steps x --num at most {MAX_WALK_IMAGES} (default: 5)")
    ap.add_argument("--steps", type=count_up_to(MAX_STEPS), default=12,
        help=f"frames from one point of the walk to the next, at most {MAX_STEPS}; "
             "--morph's walk has 4 x STEPS (default: 12)")
    add_dataset_options(ap)
    add_sampler_options(ap, "draw")
    ap.add_argument("--digit", default=None, metavar="CLASS",
        help="keep only samples the evaluator labels CLASS (0-9 for MNIST, a class "
             "name or number for other data); a conditional generator (--conditional) "
             "draws CLASS directly, no evaluator or data needed (default: any; a "
             "conditional generator's montage has one class a row: class 0 in the first, "
             "1 in the next, ..., starting again at 0 when there are more rows than classes)")
    ap.add_argument("--min-confidence", type=confidence, default=MIN_CONFIDENCE,
        help="with --digit or --morph: the evaluator's least probability for CLASS "
             f"(default: {MIN_CONFIDENCE})")
    ap.add_argument("--morph", nargs=2, metavar=("A", "B"), default=None,
        help="also write OUTPUT-morph-A-B.gif: a spherical walk from a confident A "
             "to a confident B; a conditional generator's keeps the noise and moves "
             "its class code from A's to B's (default: off)")
    add_real_image_options(ap, "for --rejection, --langevin, and --digit, --morph of an "
                               "unconditional generator")
    add_shape_options(ap)
    return ap


def check_arguments(ap, args):
    """What argparse's types cannot check alone, before anything is read or
    written: argparse's usage error (exit 2) otherwise."""
    check_dataset_arguments(ap, args)
    if args.num is not None and args.num > MAX_NUM and not args.write_dataset:
        ap.error(f"argument --num: at most {MAX_NUM:,} (a {MAX_NUM ** 0.5:.0f}x"
                 f"{MAX_NUM ** 0.5:.0f} montage), got {args.num:,}")
    if args.output is None and args.export is None and args.write_dataset is None:
        ap.error("the following arguments are required: --output (or --export, --write-dataset)")
    if args.output:
        check_writable_file(ap, "--output", args.output, ".png")
        check_not_a_run_file(ap, "--output", args.output)
    else:
        for name in ("individual", "interpolate", "morph", "digit", "rejection", "langevin"):
            if getattr(args, name):
                ap.error(f"argument --{name}: draws for the montage: give --output too")
    if args.export:
        check_output_folder(ap, args.export, "--export")
        if export.folder_problem(args.export):
            ap.error(f"argument --export: {export.folder_problem(args.export)}")
    if (args.rejection or args.langevin) and args.truncation is not None:
        ap.error(f"argument --truncation: not with --{'rejection' if args.rejection else 'langevin'} "
                 "(each trades variety for fidelity its own way: choose one)")
    if (args.rejection or args.langevin) and args.digit:
        ap.error(f"argument --digit: not with --{'rejection' if args.rejection else 'langevin'} "
                 "(choose one way of selecting)")
    if args.interpolate:
        check_writable_file(ap, "--interpolate", args.interpolate, ".gif")
        check_not_a_run_file(ap, "--interpolate", args.interpolate)
        if args.num is not None:        # else once the generator says its --num (main)
            check_walk(ap, args, args.num)
    if args.morph:                      # (with --output: checked above)
        if any(sep in name for name in args.morph for sep in {"/", os.sep}):
            ap.error("argument --morph: a class with '/' in its name cannot name the GIF")
        check_writable_file(ap, "--morph", morph_gif(args.output, args.morph), ".gif")
        check_not_a_run_file(ap, "--morph", morph_gif(args.output, args.morph))
        if args.interpolate and os.path.abspath(args.interpolate) == \
                os.path.abspath(morph_gif(args.output, args.morph)):
            ap.error(f"argument --interpolate: {args.interpolate} is --morph's GIF; give "
                     "another name")
    if args.individual:
        check_output_folder(ap, args.individual, "--individual")
        if args.output and os.path.abspath(args.individual) == os.path.abspath(args.output):
            ap.error(f"argument --individual: {args.individual} is --output's montage; "
                     "give a folder of its own")
        inside = run_folder_above(args.individual)
        if inside:
            ap.error(f"argument --individual: {args.individual} is inside the training run's "
                     f"folder {inside}, whose files are the run's own; choose another folder")


def check_walk(ap, args, num):
    """--interpolate draws --keyframes x --steps montages of num digits: at
    most MAX_WALK_IMAGES in all."""
    frames = args.keyframes * args.steps
    if frames * num > MAX_WALK_IMAGES:
        ap.error(f"argument --interpolate: {frames:,} frames (--keyframes x --steps) of "
                 f"{num:,} digits would draw {frames * num:,}, more than "
                 f"{MAX_WALK_IMAGES:,}: ask for fewer frames or a smaller --num")


def check_not_a_run_file(ap, option, path):
    """A training run's own files are never replaced (its montage, its
    output.gif): argparse's usage error for one of them."""
    folder = run_holding(path)
    if folder:
        ap.error(f"argument {option}: {path} is one of the files of the training run in "
                 f"{folder}; choose another name")


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    check_arguments(ap, args)
    check_named_data_dir(ap, args)
    sampler = "--rejection" if args.rejection else "--langevin" if args.langevin else None
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")

    # the generator: its shape and --num checked, said in lines
    loaded = drawing.load_generator(args.checkpoint, args.weights, DEVICE)
    check_shape(ap, args, loaded.path, loaded.gen)
    if args.num is None:
        args.num = DATASET_NUM if args.write_dataset else default_num(loaded.numClasses)
        if args.interpolate:
            check_walk(ap, args, args.num)
    disc = drawing.discriminator_of(loaded, sampler, DEVICE) if sampler else None
    args.truncation = drawing.say_generator(loaded, DEVICE, args.truncation, sampler)

    # what it can do, in this order
    if args.write_dataset:           # the samples as a data set (sampling/dataset.py), only that
        numClasses = loaded.numClasses
        dataSet = DataSet(loaded.gen, args.num, args.seed, args.truncation, DEVICE,
                          args.format, numClasses and recorded_class_names(loaded.saved, numClasses),
                          {"checkpoint": loaded.path, "weights": loaded.description, "command":
                           shlex.join(["python", "generate.py", *(argv or sys.argv[1:])])})
        write_folder(args.write_dataset, dataSet)
        print(f"[INFO] wrote {dataSet.said()} to {args.write_dataset} ({args.format}; "
              "manifest.json says which generator, seed and truncation)")
        return 0
    if args.export:
        drawing.export_generator(args.export, loaded, args.truncation)
        if args.output is None:
            return 0
        loaded.gen.to(DEVICE)
    drawer = drawing.Drawer(loaded, DEVICE, args.num, args.seed, args.truncation, args.digit,
                            args.morph, args.min_confidence, disc,
                            sampler_settings(args) if sampler else None,
                            drawing.RealImages(args.dataset, args.data_dir, args.invert,
                                               not args.no_download))
    images = drawer.montage()
    walk = drawer.morph(args.steps) if args.morph else None
    if args.individual:                  # a folder in the way: said before the first write
        digitFiles = drawing.individual_files(args.individual, args.num, drawer.cellClasses)
    drawing.write_montage(args.output, images)
    if args.morph:
        drawer.write_morph(morph_gif(args.output, args.morph), walk)
    if args.individual:
        drawing.write_individual(args.individual, digitFiles, images)
    if args.interpolate:
        drawer.walk(args.interpolate, args.keyframes, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(as_script(main, raise_terminated))    # SIGTERM: one line, status 143
