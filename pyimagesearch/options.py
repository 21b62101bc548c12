"""The command-line options the project adds to the article's three
(-o/--output, -e/--epochs, -b/--batch-size), their checks, and argparse
types the scripts share."""

import argparse
import math
import os

from .data import DATASETS, SCORABLE
from .folder import INVERT_CHOICES
from .device import DEVICES

DEFAULT_SEED = 42
MAX_SEED = 2**63 - 1
# fewest samples a Fréchet distance is computed from: twice the evaluator's
# 128 feature dimensions, so that the covariance of the samples can be of full
# rank; fewer give numbers that mean nothing
MIN_EVAL_SAMPLES = 256

# arguments that shape the training itself: a resumed run must keep them
SHAPING = ("batch_size", "dataset", "limit", "seed", "ema", "invert")
# arguments of one invocation; --resume takes all others from the checkpoint
# unless they are given again
PER_INVOCATION = ("output", "resume", "overwrite", "stop_after")


def _number(text, convert, ok, expected):
    """argparse type: `text` converted, or argparse's usage error saying
    what was `expected`."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return value


def positive_int(text):
    """argparse type: an integer of at least 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def nonnegative_int(text):
    """argparse type: an integer of at least 0."""
    return _number(text, int, lambda v: v >= 0, "0 or a positive integer")


def eval_samples(text):
    """argparse type: how many samples to score, at least MIN_EVAL_SAMPLES."""
    return _number(text, int, lambda v: v >= MIN_EVAL_SAMPLES,
                   f"at least {MIN_EVAL_SAMPLES} (twice the evaluator's 128 feature "
                   "dimensions) for a meaningful FLD")


def percentile(text):
    """argparse type: a number from 0 to 100."""
    return _number(text, float, lambda v: 0 <= v <= 100, "a number from 0 to 100")


def confidence(text):
    """argparse type: a probability in (0, 1]."""
    return _number(text, float, lambda v: 0 < v <= 1, "a probability in (0, 1]")


def random_seed(text):
    """argparse type: a random seed, 0 to 2**63 - 1 (what torch accepts)."""
    return _number(text, int, lambda v: 0 <= v <= MAX_SEED, "an integer from 0 to 2**63 - 1")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: the article's own three
    options are declared exactly as it prints them, without one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.required or not action.option_strings \
                or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})"


def add_training_options(ap):
    """Add dcgan_mnist.py's own options to the article's parser `ap`."""
    ap.description = "Train the article's DCGAN on MNIST-format digits."
    ap.formatter_class = DefaultsHelpFormatter
    ap.add_argument("--data-dir", default="data",
        help="folder with the IDX files (flat or torchvision's DIR/MNIST/raw), "
             "or where torchvision downloads them; with --dataset folder, the "
             "folder of images (default: data)")
    ap.add_argument("--dataset", choices=DATASETS, default="mnist",
        help="which data: an MNIST-format set; 'folder', your own images in "
             "--data-dir (one subfolder per class, or none; docs/folder.md); "
             "'fake', torchvision FakeData for smoke runs (default: mnist)")
    ap.add_argument("--invert", choices=INVERT_CHOICES, default="auto",
        help="with --dataset folder: make dark-on-light images light on dark, "
             "as the article's digits: auto decides image by image from its "
             "ground (default: auto)")
    ap.add_argument("--no-download", action="store_true",
        help="never use the network: use --data-dir's files or, for MNIST, "
             "the embedded 5,000 digits (default: download when missing)")
    ap.add_argument("--limit", type=positive_int, default=None,
        help="train on at most this many images (the first ones), for quick "
             "runs; also the size of --dataset fake (default: all; fake: 1000)")
    ap.add_argument("--seed", type=random_seed, default=DEFAULT_SEED,
        help="random seed for weights, noise and shuffling; the same seed on "
             f"the CPU gives the same losses (default: {DEFAULT_SEED})")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to train; auto = CUDA, then Apple MPS, then CPU "
             "(default: auto)")
    ap.add_argument("--no-progress", action="store_true",
        help="hide the per-batch progress bar (default: shown)")
    ap.add_argument("--resume", action="store_true",
        help="continue the run in --output from its checkpoint.pt up to "
             "--epochs (default: start a new run)")
    ap.add_argument("--overwrite", action="store_true",
        help="replace a previous run's files in --output (default: refuse to "
             "mix two runs in one folder)")
    ap.add_argument("--eval-every", type=int, default=0, metavar="K",
        help="score the generator every K epochs and after the last one with "
             "the project's digit evaluator (FLD, Inception Score, coverage) "
             "into metrics.json and history.csv; 0 = off, as the article "
             "(default: 0)")
    ap.add_argument("--eval-num", type=eval_samples, default=10_000, metavar="N",
        help=f"samples per evaluation, at least {MIN_EVAL_SAMPLES} (default: 10000)")
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
        help="also keep an exponential moving average of the generator's "
             "weights (decay per generator step, with warm-up; BatchNorm "
             "statistics re-estimated for it) and draw the montages and "
             "generator_ema.pth from it; 0.99 is recommended (docs/ema.md); "
             "0 = off, as the article (default: 0)")
    ap.add_argument("--amp", action="store_true",
        help="mixed precision: bf16 autocast for G and D, BCE in float32; for "
             "GPUs and CPUs with bf16 units (docs/speed.md), while the default "
             "keeps the article's float32 (default: off)")
    ap.add_argument("--compile", action="store_true",
        help="torch.compile G and D (compiling takes a while first; "
             "docs/speed.md) (default: off)")
    ap.add_argument("--stop-after", type=positive_int, default=None, metavar="EPOCHS",
        help="stop after this many epochs in this invocation, checkpoint "
             "saved; continue later with --resume (default: run to --epochs)")


def explicit(ap, argv):
    """The arguments the user actually typed, not argparse's defaults:
    argparse gives a default only to names the namespace lacks, so every
    name starts out as a marker, and what is still the marker was not
    typed."""
    unset = object()
    names = vars(ap.parse_args(argv))
    typed = ap.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(names, unset)))
    return {name: value for name, value in vars(typed).items() if value is not unset}


def check(ap, args):
    """What argparse's types cannot check alone; argparse's usage error
    (exit 2, nothing written) otherwise."""
    for name, option in (("epochs", "-e/--epochs"), ("batch_size", "-b/--batch-size")):
        if args[name] < 1:
            ap.error(f"argument {option}: must be a positive integer, got {args[name]}")
    if args["eval_every"] < 0:
        ap.error(f"argument --eval-every: must be 0 (off) or positive, got {args['eval_every']}")
    if not 0 <= args["ema"] < 1:
        ap.error(f"argument --ema: a decay in (0, 1), or 0 for off; got {args['ema']}")
    if args["invert"] != "auto" and args["dataset"] != "folder":
        ap.error(f"argument --invert: applies to --dataset folder, not {args['dataset']}")
    if args["eval_every"] and args["dataset"] == "fake":
        ap.error("argument --eval-every: --dataset fake is random noise, with no classes "
                 "to score generated images against")
    if args["resume"] and args["overwrite"]:
        ap.error("argument --overwrite: not allowed with --resume")
    check_output_folder(ap, args["output"])


def check_output_folder(ap, path):
    """Refuse, argparse-style, an output folder that cannot be one."""
    if not path.strip():
        ap.error("argument -o/--output: an empty name is not a folder")
    if os.path.exists(path) and not os.path.isdir(path):
        ap.error(f"argument -o/--output: {path} is a file, not a folder")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        ap.error(f"argument -o/--output: {parent} is a file, so {path} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        ap.error(f"argument -o/--output: {parent} is not writable")


def check_writable_file(ap, option, path, suffix):
    """Refuse, argparse-style, an output file that cannot be written."""
    if not path.lower().endswith(suffix):
        ap.error(f"argument {option}: {path} must end in {suffix}")
    if os.path.isdir(path):
        ap.error(f"argument {option}: {path} is a folder")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        ap.error(f"argument {option}: the folder {folder} does not exist")


def add_real_image_options(ap, why):
    """--data-dir, --dataset, --invert, --no-download for the scripts that
    need the real images of a saved run (by default the run's own)."""
    group = ap.add_argument_group(f"the real images ({why}; default: the training run's, "
                                  "read from a checkpoint.pt)")
    group.add_argument("--data-dir", default=None,
        help="as for dcgan_mnist.py (default: the run's; else data)")
    group.add_argument("--dataset", choices=SCORABLE, default=None,
        help="as for dcgan_mnist.py (default: the run's; else mnist)")
    group.add_argument("--invert", choices=INVERT_CHOICES, default=None,
        help="as for dcgan_mnist.py (default: the run's; else auto)")
    group.add_argument("--no-download", action="store_true",
        help="never use the network (default: download when missing)")


def positive_float(text):
    """argparse type: a number above 0."""
    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a number above 0")


def add_sampler_options(ap, what):
    """--rejection or --langevin, and their settings
    (pyimagesearch/rejection.py, docs/rejection.md). `what`: what the
    script does with their samples ("draw", "also score")."""
    from .rejection import (CALIBRATION_STEPS, GAMMA_PERCENTILE, LANGEVIN_CALIBRATION_STEPS,
                            LANGEVIN_STEP_SIZE, LANGEVIN_STEPS)

    group = ap.add_argument_group("samplers that use the discriminator (need a checkpoint.pt)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--rejection", action="store_true",
        help=f"{what} the samples discriminator rejection sampling keeps (default: off)")
    which.add_argument("--langevin", action="store_true",
        help=f"{what} samples moved in the latent space by Langevin steps on the "
             "discriminator's verdict, the one sampler that lowered FLD here "
             "(default: off)")
    group.add_argument("--calibration-steps", type=nonnegative_int, default=None,
        help="batches the discriminator is trained on, G fixed, before Platt "
             f"scaling (default: {CALIBRATION_STEPS} with --rejection, "
             f"{LANGEVIN_CALIBRATION_STEPS} with --langevin)")
    group.add_argument("--gamma-percentile", type=percentile, default=GAMMA_PERCENTILE,
        help="with --rejection: the shift gamma as a percentile of F(x) over the "
             f"burn-in samples; higher keeps fewer (default: {GAMMA_PERCENTILE:g})")
    group.add_argument("--langevin-steps", type=positive_int, default=LANGEVIN_STEPS,
        help=f"with --langevin: how many steps (default: {LANGEVIN_STEPS})")
    group.add_argument("--langevin-step-size", type=positive_float, default=LANGEVIN_STEP_SIZE,
        help=f"with --langevin: the step size (default: {LANGEVIN_STEP_SIZE:g})")
