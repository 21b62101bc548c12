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
import re
import sys

import torch

from pyimagesearch import visualize
from pyimagesearch.checkpoint import (build_discriminator, build_generator, load,
                                      trained_with)
from pyimagesearch.cli import (add_shape_options, check_output_folder, check_shape,
                               check_writable_file, confidence, count_up_to, positive_int,
                               random_seed)
from pyimagesearch.data import load_training_data
from pyimagesearch.data.options import add_real_image_options
from pyimagesearch.device import DEVICES, describe, select_device
from pyimagesearch.errors import UserError, as_script, one_line_errors, raise_terminated
from pyimagesearch.exported import shipped_generator
from pyimagesearch.models import class_count, noise_dim
from pyimagesearch.noise import MAX_TRUNCATION
from pyimagesearch.models import describe as shape_of
from pyimagesearch.files import replaced, replaced_in, write_image
from pyimagesearch.quality.evaluator import load_or_train, split_real
from pyimagesearch.quality.selection import (MIN_CONFIDENCE, DigitSelector, class_label,
                                             label_of, montage_rows, recorded_class_names)
from pyimagesearch.sampling import latent
from pyimagesearch.sampling.options import (add_sampler_options, add_truncation_option,
                                            sampler_settings, truncation_said)
from pyimagesearch.sampling.rejection import better_samples
from pyimagesearch.sharing import export
from pyimagesearch.training.output_folder import run_folder_above, run_holding

MAX_NUM = 10_000          # a 100x100 montage, 2800x2800 pixels
MAX_WALK_IMAGES = 100_000   # digits drawn for --interpolate: frames x cells
MAX_STEPS = 250           # --steps: --morph's GIF has 8 x 250 frames there and back
DEFAULT_NUM = 64          # an 8x8 montage
MAX_ROWS_BY_CLASS = 16     # a conditional generator's default montage: K x K up to 16 classes
DIGIT_FILE = re.compile(r"digit_[0-9]{4,}(_class_[0-9]+)?\.png")    # --individual's files


def default_num(numClasses):
    """--num when not given: 64; a conditional generator's a square of one
    row per class (K x K) when it has at most MAX_ROWS_BY_CLASS classes."""
    if numClasses and numClasses <= MAX_ROWS_BY_CLASS:
        return numClasses * numClasses
    return DEFAULT_NUM


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
        help="how many digits, at most 10000; the montage is the smallest square "
             f"grid that holds them (default: {DEFAULT_NUM}, an 8x8 grid; a conditional "
             "generator's, one row per class: 100 for ten classes, a 10x10 grid)")
    ap.add_argument("--seed", type=random_seed, default=0,
        help="seed of the noise: the same seed gives the same digits (default: 0)")
    add_truncation_option(ap, " for the montage, --digit, --morph, --individual and "
                              "--interpolate (with --export: the T the folder recommends, "
                              "the demo's default)",
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
    if args.num is not None and args.num > MAX_NUM:
        ap.error(f"argument --num: at most {MAX_NUM:,} (a {MAX_NUM ** 0.5:.0f}x"
                 f"{MAX_NUM ** 0.5:.0f} montage), got {args.num:,}")
    if args.output is None and args.export is None:
        ap.error("the following arguments are required: --output (or --export)")
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
        check_writable_file(ap, "--morph", morph_gif(args), ".gif")
        check_not_a_run_file(ap, "--morph", morph_gif(args))
        if args.interpolate and os.path.abspath(args.interpolate) == \
                os.path.abspath(morph_gif(args)):
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


def morph_gif(args):
    """--morph's GIF: OUTPUT-morph-A-B.gif, beside the montage."""
    return f"{args.output[:-4]}-morph-{args.morph[0]}-{args.morph[1]}.gif"


def digit_files(num, cellClasses):
    """--individual's file names: digit_0000.png, ... (a conditional
    generator's digit_0000_class_7.png, its class number)."""
    return [f"digit_{i:04d}" + ("" if cellClasses is None else f"_class_{int(cellClasses[i])}")
            + ".png" for i in range(num)]


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


def refused_sampler(option, numClasses):
    """Why --rejection and --langevin refuse a conditional generator."""
    return (f"{option} works with an unconditional generator only: its calibration and "
            "its verdicts ask the discriminator about samples without their class, and this "
            f"generator is conditional ({numClasses} classes); draw one class with --digit "
            "instead")


def told_classes(args, names, cellClasses):
    """The line saying how a conditional generator drew the montage."""
    if args.digit:
        return (f"drew {args.num} of class {names[int(cellClasses[0])]} by telling the conditional "
                "generator the class (no evaluator, no rejection)")
    rows = montage_rows(args.num, len(names)).unique_consecutive()
    shown = ", ".join(names[c] for c in rows[:12]) + (", ..." if len(rows) > 12 else "")
    return (f"the conditional generator told one class a row, from the top: {shown}")


def export_generator(args, saved, gen, description):
    """--export: the folder written whole (sharing/export.py), and a line."""
    done = export.export(args.export, gen,
                         export.describe_export(saved, args.checkpoint, gen, description,
                                                args.truncation))
    sizes = ", ".join(f"{name} ({size / 1024:,.0f} KiB)" for name, size in done["bytes"].items())
    print(f"[INFO] exported the generator to {args.export}: {sizes}; ONNX matches PyTorch "
          f"to {done['onnx_difference']:.1e}")


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    check_arguments(ap, args)
    discriminatorSampler = args.rejection or args.langevin
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")

    if args.checkpoint is None:
        args.checkpoint, line = shipped_generator()
        print(f"[INFO] {line}")
    saved = load(args.checkpoint)
    gen, description = build_generator(args.checkpoint, args.weights, DEVICE, loaded=saved)
    check_shape(ap, args, args.checkpoint, gen)
    numClasses = class_count(gen)          # --conditional's generators; None: the article's
    if args.num is None:
        args.num = default_num(numClasses)
        if args.interpolate:
            check_walk(ap, args, args.num)
    # a file without the discriminator says so first (the shipped generators among them)
    disc = build_discriminator(args.checkpoint, saved, DEVICE) if discriminatorSampler else None
    if numClasses and discriminatorSampler:
        raise UserError(refused_sampler("--rejection" if args.rejection else "--langevin",
                                        numClasses))
    print(f"[INFO] {description} ({shape_of(gen.imageSize, gen.channels)} images), on {describe(DEVICE)}")
    noiseDim = noise_dim(gen)                 # 100 for the article's generator
    recipe = saved.get("run", {}).get("recipe") if isinstance(saved, dict) else None
    if recipe:
        print(f"[INFO] trained with the recipe: {recipe}")
    recommended = getattr(saved, "config", {}).get("truncation")
    if args.truncation is None and recommended and not discriminatorSampler:
        args.truncation = recommended          # an exported folder's, as the demo's default
        print(f"[INFO] the folder recommends --truncation {recommended:g} (its README.md: "
              f"fidelity or variety); --truncation {MAX_TRUNCATION:g} draws untruncated")
    if args.export:
        export_generator(args, saved, gen, description)
        if args.output is None:
            return 0
        gen = gen.to(DEVICE)

    if numClasses:
        # told the class: the classes asked for are read, nothing else
        names = recorded_class_names(saved, numClasses)
        asked = [class_label(name, names, numClasses)
                 for name in ([args.digit] if args.digit else []) + (args.morph or [])]
        names = names or [str(c) for c in range(numClasses)]
    if discriminatorSampler or ((args.digit or args.morph) and not numClasses):
        trained = trained_with(saved, args.checkpoint, gen).given(args.dataset, args.data_dir,
                                                                  args.invert)
        imageSet, _ = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                         allowDownload=not args.no_download,
                                         size=gen.imageSize, channels=gen.channels,
                                         named=args.data_dir is not None)
        split = split_real(imageSet, trained.seed)
    if (args.digit or args.morph) and not numClasses:
        if imageSet.classes is None:
            raise UserError(f"--digit and --morph need classes: {imageSet.source} has no class "
                            "subfolders")
        labels = [label_of(name, imageSet.classes) for name in ([args.digit] if args.digit else [])
                  + (args.morph or [])]
        model, _, _ = load_or_train(split, trained.seed, DEVICE)
        selector = DigitSelector(gen, model, DEVICE, args.seed, args.truncation)

    # the montage: --num digits from --seed, all or only those kept; a
    # conditional generator's told the class of each cell
    cellClasses = None
    T = args.truncation
    if T is not None:
        print(f"[INFO] the noise {truncation_said(T)}"
              + (f": every component within [-{T:g}, {T:g}]" if T < MAX_TRUNCATION else ""))
    if numClasses:
        cellClasses = (torch.full((args.num,), asked[0]) if args.digit
                       else montage_rows(args.num, numClasses))               # (num,)
        images = latent.generate(gen, latent.noise(args.num, args.seed, noiseDim, T), DEVICE,
                                 cellClasses)
        print(f"[INFO] {told_classes(args, names, cellClasses)}")
    elif discriminatorSampler:
        images, _, what = better_samples(sampler_settings(args), gen, disc, split.heldOutImages, DEVICE, args.seed,
                                         args.num)
        print(f"[INFO] {what}")
    elif args.digit:
        images, _, numbers = selector.sample(labels[0], args.num, args.min_confidence,
                                             name=args.digit)
        print(f"[INFO] {numbers['acceptance_rate']:.1%} of {numbers['draws']:,} samples are a "
              f"{args.digit} with probability {args.min_confidence:g} or more")
    else:
        images = latent.generate(gen, latent.noise(args.num, args.seed, noiseDim, T), DEVICE)
    if args.morph and numClasses:
        a, b = asked[-2:]
        if a == b:                       # one class, between two noise vectors
            z = latent.noise(2, args.seed, noiseDim, T)
            walk = latent.morph(gen, z[:1], z[1:], 4 * args.steps, DEVICE, label=a)
        else:                            # the same noise, from A's code to B's
            walk = latent.class_morph(gen, latent.noise(1, args.seed, noiseDim, T), a, b,
                                      numClasses, 4 * args.steps, DEVICE)
    elif args.morph:
        a, b = labels[-2:]
        if a == b:                       # two different samples of one class
            _, z, _ = selector.sample(a, 2, args.min_confidence, name=args.morph[0])
            zA, zB = z[:1], z[1:]
        else:
            (_, zA, _), (_, zB, _) = (selector.sample(label, 1, args.min_confidence, name=name)
                                      for label, name in zip((a, b), args.morph))
        walk = latent.morph(gen, zA, zB, 4 * args.steps, DEVICE)            # (frames, C, S, S)
    if args.individual:                  # a folder in the way: said before the first write
        digitFiles = digit_files(args.num, cellClasses)
        for name in digitFiles:
            if os.path.isdir(os.path.join(args.individual, name)):
                raise UserError(f"--individual: {os.path.join(args.individual, name)} is a "
                                "folder; move it, or choose another folder")
    said = replaced(args.output)
    write_image(args.output, visualize.build_montage(images))
    print(f"[INFO] wrote {args.num} digits to {args.output}{said}")
    if args.morph:
        path = morph_gif(args)
        said = replaced(path)
        frames = [visualize.build_montage(frame[None]) for frame in walk]
        zoom = max(1, 112 // gen.imageSize)                                 # 112x112 at 28
        frames = [f.repeat(zoom, axis=0).repeat(zoom, axis=1) for f in frames]
        visualize.write_digit_gif(path, frames + frames[-2:0:-1], duration=60)   # and back
        how = (" (the same noise, the class code moving from one to the other)"
               if numClasses and a != b else "")
        print(f"[INFO] wrote a {len(walk)}-frame walk from a {args.morph[0]} to a "
              f"{args.morph[1]}, and back, to {path}{how}{said}")

    if args.individual:
        said = replaced_in(args.individual, digitFiles, DIGIT_FILE, "digit_*.png")
        os.makedirs(args.individual, exist_ok=True)
        for name, image in zip(digitFiles, visualize.to_uint8_images(images)):
            write_image(os.path.join(args.individual, name),
                        image[:, :, 0] if gen.channels == 1 else image)
        print(f"[INFO] wrote {args.num} single digits to {args.individual}{said}")

    if args.interpolate:
        walk = latent.latent_walk(args.num, args.keyframes, args.steps, args.seed, noiseDim, T)
        frames = [visualize.build_montage(latent.generate(gen, z, DEVICE, cellClasses))
                  for z in walk]                 # (frames) x (H, W, 3) uint8; classes kept
        said = replaced(args.interpolate)
        visualize.write_digit_gif(args.interpolate, frames, duration=80)
        print(f"[INFO] wrote a {len(frames)}-frame latent walk to {args.interpolate}{said}")
    return 0


if __name__ == "__main__":
    sys.exit(as_script(main, raise_terminated))    # SIGTERM: one line, status 143
