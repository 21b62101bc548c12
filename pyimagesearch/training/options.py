"""The command-line options dcgan_mnist.py adds to the article's three
(-o/--output, -e/--epochs, -b/--batch-size), their checks, and what a
resumed run does with each of them.

Every option declares its resume rule where it is added (`option(...,
resume=RULE)`), one of:

    SHAPES          shapes the training: a resumed run keeps the checkpoint's
                    value, and refuses another one given again
    PER_INVOCATION  belongs to one command: never taken from the checkpoint
    INHERITED       the checkpoint's value unless given again

`resume_rules(ap)` reads them back and refuses a parser with an option that
has none (tests/test_options.py keeps it so).
"""

import argparse
import os
import shlex

from ..cli import (MAX_EVAL_SAMPLES, MIN_EVAL_SAMPLES, DefaultsHelpFormatter,
                   check_output_folder, eval_samples, fraction, nonnegative_float,
                   positive_float, positive_int, random_seed, truncation)
from ..data.folder import INVERT_CHOICES
from ..errors import shorten
from ..noise import MAX_TRUNCATION, MIN_TRUNCATION
from ..data.sources import DATASETS, GREY_DATASETS
from ..device import DEVICES
from ..models import CHANNELS, IMAGE_SIZES
from .recipes import PRESETS, parse_policies, recipe_of

DEFAULT_SEED = 42
MAX_CR = 100.0            # bCR's papers use 10; far above, D's loss is the term alone and diverges
MAX_CR_SHIFT = 14         # half the article's 28-pixel digit

SHAPES = "shapes the training"
PER_INVOCATION = "per invocation"
INHERITED = "inherited"
RULES = (SHAPES, PER_INVOCATION, INHERITED)

# the article's own three options, added by the script as the article prints them
ARTICLE_RULES = {"output": PER_INVOCATION, "epochs": INHERITED, "batch_size": SHAPES}


def option(ap, *flags, resume, **kwargs):
    """ap.add_argument(*flags, **kwargs), with the option's resume rule."""
    if resume not in RULES:
        raise ValueError(f"resume rule of {flags}: {resume!r} is none of {RULES}")
    action = ap.add_argument(*flags, **kwargs)
    action.resume = resume
    return action


def resume_rules(ap):
    """{dest: rule} of every option of `ap` (--help aside); ValueError
    naming the options that declare none."""
    actions = [a for a in ap._actions if not isinstance(a, argparse._HelpAction)]
    missing = [a.dest for a in actions if getattr(a, "resume", None) not in RULES]
    if missing:
        raise ValueError(f"options without a resume rule: {', '.join(missing)} "
                         "(declare one with training.options.option(..., resume=...))")
    return {a.dest: a.resume for a in actions}


def add_training_options(ap):
    """Add dcgan_mnist.py's own options to the article's parser `ap`."""
    ap.description = ("Train the article's DCGAN on MNIST-format digits, or on other images "
                      "in grey or colour at 28, 32 or 64 pixels.")
    ap.formatter_class = DefaultsHelpFormatter
    for action in ap._actions:
        if action.dest in ARTICLE_RULES:
            action.resume = ARTICLE_RULES[action.dest]
    option(ap, "--data-dir", default="data", resume=INHERITED,
        help="folder with the IDX files (flat or torchvision's DIR/MNIST/raw), "
             "or where torchvision downloads them; with --dataset folder, the "
             "folder of images (default: data)")
    option(ap, "--dataset", choices=DATASETS, default="mnist", resume=SHAPES,
        help="which data: an MNIST-format set; 'folder', your own images in "
             "--data-dir (one subfolder per class, or none; docs/folder.md); "
             "'cifar10', torchvision's CIFAR-10 in --data-dir (docs/sizes.md); "
             "'fake', torchvision FakeData for smoke runs (default: mnist)")
    option(ap, "--image-size", type=int, choices=IMAGE_SIZES, default=28, metavar="S",
        resume=SHAPES,
        help="train on S x S images, one of 28 (the article's networks), 32 "
             "or 64 (the same pattern, sized by docs/sizes.md); other sizes of "
             "images are resized (default: 28)")
    option(ap, "--channels", type=int, choices=CHANNELS, default=1, resume=SHAPES,
        help="1: grey, as the article; 3: colour (RGB), for --dataset folder "
             "or cifar10 (default: 1)")
    option(ap, "--invert", choices=INVERT_CHOICES, default="auto", resume=SHAPES,
        help="with --dataset folder: make dark-on-light images light on dark, "
             "as the article's digits: auto decides image by image from its "
             "ground (default: auto)")
    option(ap, "--no-download", action="store_true", resume=INHERITED,
        help="never use the network: use --data-dir's files or, for MNIST, "
             "the embedded 5,000 digits (default: download when missing)")
    option(ap, "--limit", type=positive_int, default=None, resume=SHAPES,
        help="train on at most this many images (the first ones), for quick "
             "runs; also the size of --dataset fake (default: all; fake: 1000)")
    option(ap, "--seed", type=random_seed, default=DEFAULT_SEED, resume=SHAPES,
        help="random seed for weights, noise and shuffling; the same seed on "
             f"the CPU gives the same losses (default: {DEFAULT_SEED})")
    option(ap, "--device", choices=DEVICES, default="auto", resume=INHERITED,
        help="where to train; auto = CUDA, then Apple MPS, then CPU "
             "(default: auto)")
    option(ap, "--no-progress", action="store_true", resume=INHERITED,
        help="hide the per-batch progress bar (default: shown)")
    option(ap, "--resume", action="store_true", resume=PER_INVOCATION,
        help="continue the run in --output from its checkpoint.pt up to "
             "--epochs (default: start a new run)")
    option(ap, "--overwrite", action="store_true", resume=PER_INVOCATION,
        help="replace a previous run's files in --output (default: refuse to "
             "mix two runs in one folder)")
    option(ap, "--eval-every", type=int, default=0, metavar="K", resume=INHERITED,
        help="score the generator every K epochs and after the last one with "
             "the project's digit evaluator (FLD, Inception Score, coverage) "
             "into metrics.json and history.csv; 0 = off, as the article "
             "(default: 0)")
    option(ap, "--eval-num", type=eval_samples, default=10_000, metavar="N", resume=INHERITED,
        help=f"samples per evaluation, from {MIN_EVAL_SAMPLES} to {MAX_EVAL_SAMPLES} "
             "(default: 10000)")
    option(ap, "--eval-truncation", type=truncation, default=None, metavar="T",
        resume=INHERITED,
        help="also score, at each evaluation, the generator the montages show with its "
             "noise truncated at T (the truncation trick: generate.py --truncation; "
             "docs/conditional.md) (default: off)")
    option(ap, "--tensorboard", nargs="?", const=True, default=None, metavar="DIR",
        resume=INHERITED,
        help="log the run for TensorBoard (`tensorboard --logdir DIR`): G and D losses "
             "and D's verdicts per batch, the montages, the scores, the options; "
             "without DIR into OUTPUT/tensorboard (default: off)")
    option(ap, "--ema", type=float, default=0.0, metavar="DECAY", resume=SHAPES,
        help="also keep an exponential moving average of the generator's "
             "weights (decay per generator step, with warm-up; BatchNorm "
             "statistics re-estimated for it) and draw the montages and "
             "generator_ema.pth from it; 0.99 is recommended (docs/ema.md); "
             "0 = off, as the article (default: 0)")
    option(ap, "--conditional", action="store_true", resume=SHAPES,
        help="a class-conditional DCGAN: both networks are told the class of each image "
             "(the generator a one-hot code after its noise, the discriminator a "
             "projection of it), so a trained generator draws the class asked for; the "
             "classes come from the data; recommended, as the shipped generator was trained: "
             "--conditional --recipe better --ema 0.99 --epochs 80 (docs/conditional.md) "
             "(default: off, as the article)")
    option(ap, "--balanced-batches", action="store_true", resume=SHAPES,
        help="with --conditional: every real batch holds each class in its share of the "
             "data (to within one image; a plain shuffle's mix varies, 5 to 21 of a digit "
             "in 128), and the fakes are told the real batch's classes "
             "(docs/conditional.md) (default: off, as the article)")
    add_recipe_options(ap)
    option(ap, "--amp", action="store_true", resume=INHERITED,
        help="mixed precision: bf16 autocast for G and D, BCE in float32; for "
             "GPUs and CPUs with bf16 units (docs/speed.md), while the default "
             "keeps the article's float32 (default: off)")
    option(ap, "--compile", action="store_true", resume=INHERITED,
        help="torch.compile G and D (compiling takes a while first). Slower on a "
             "CPU: on 2 cores of an Intel Xeon it trained 0.81x as fast as "
             "without; it may pay on a GPU (docs/speed.md) (default: off)")
    option(ap, "--stop-after", type=positive_int, default=None, metavar="EPOCHS",
        resume=PER_INVOCATION,
        help="stop after this many epochs in this invocation, checkpoint "
             "saved; continue later with --resume (default: run to --epochs)")


def add_recipe_options(ap):
    """--recipe and the training recipes it combines (training/recipes.py,
    docs/recipes.md): each keeps the article's networks; all are off by
    default, and every one shapes the training (a resumed run keeps it)."""
    group = ap.add_argument_group("training recipes (the article's networks, trained otherwise; "
                                  "docs/recipes.md)")
    option(group, "--recipe", choices=tuple(PRESETS), default="article", resume=SHAPES,
        help="'article': the article's training; 'better': the combination measured "
             "best in docs/recipes.md; the options below change either (default: article)")
    option(group, "--lr-d", type=positive_float, default=None, metavar="LR", resume=SHAPES,
        help="the discriminator's Adam learning rate (TTUR) (default: the recipe's; "
             "the article's 0.0002)")
    option(group, "--lr-g", type=positive_float, default=None, metavar="LR", resume=SHAPES,
        help="the generator's Adam learning rate (default: the recipe's; 0.0002)")
    option(group, "--cr", type=consistency_weight, default=None, metavar="LAMBDA", resume=SHAPES,
        help="balanced consistency regularisation: LAMBDA times the squared change of D's "
             f"logits when real and fake images move by up to --cr-shift pixels; 0 = off, "
             f"at most {MAX_CR:g} (default: the recipe's; 0)")
    option(group, "--cr-shift", type=consistency_shift, default=None, metavar="PX",
           resume=SHAPES,
        help="largest shift of --cr's translations, in pixels (no flips: digits have a "
             "handedness) (default: 1)")
    option(group, "--top-k", type=fraction, default=None, metavar="NU", resume=SHAPES,
        help="top-k generator updates: G learns from the most realistic fakes only, the "
             "whole batch at the first epoch down linearly to the fraction NU at the last; "
             "1 = off (default: the recipe's; 1)")
    option(group, "--diffaug", type=policies, default=None, metavar="POLICIES", resume=SHAPES,
        help="differentiable augmentation of every image D sees: a comma list of "
             "translation, colour, cutout, or none (default: the recipe's; none)")


def consistency_weight(text):
    """argparse type: --cr's LAMBDA, from 0 (off) to MAX_CR."""
    value = nonnegative_float(text)
    if value > MAX_CR:
        raise argparse.ArgumentTypeError(f"at most {MAX_CR:g} (bCR's papers use 10; a larger "
                                         f"weight makes the training diverge), got {text}")
    return value


def consistency_shift(text):
    """argparse type: --cr-shift's pixels, from 1 to MAX_CR_SHIFT."""
    value = positive_int(text)
    if value > MAX_CR_SHIFT:
        raise argparse.ArgumentTypeError(f"at most {MAX_CR_SHIFT} pixels, got {text}")
    return value


def policies(text):
    """argparse type: DiffAugment's policies, as typed (checked)."""
    try:
        parse_policies(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def explicit(ap, argv):
    """The arguments the user actually typed, not argparse's defaults:
    argparse gives a default only to names the namespace lacks, so every
    name starts out as a marker, and what is still the marker was not
    typed."""
    unset = object()
    names = vars(ap.parse_args(argv))
    typed = ap.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(names, unset)))
    return {name: value for name, value in vars(typed).items() if value is not unset}


def check_eval_truncation(ap, args):
    """--eval-truncation: a threshold in range (also one a resumed run takes
    from its checkpoint), and only with --eval-every, whose scores it adds to."""
    T = args.get("eval_truncation")
    if T is None:
        return
    if isinstance(T, bool) or not isinstance(T, (int, float)) \
            or not MIN_TRUNCATION <= T <= MAX_TRUNCATION:
        ap.error(f"argument --eval-truncation: must be a number from {MIN_TRUNCATION:g} to "
                 f"{MAX_TRUNCATION:g}, got {shorten(repr(T), 40)}")
    if not args["eval_every"]:
        ap.error("argument --eval-truncation: adds to the scores of --eval-every, which is off: "
                 "give --eval-every K too")


def check(ap, args):
    """What argparse's types cannot check alone; argparse's usage error
    (exit 2, nothing written) otherwise."""
    for name, flag in (("epochs", "-e/--epochs"), ("batch_size", "-b/--batch-size")):
        if args[name] < 1:
            ap.error(f"argument {flag}: must be a positive integer, got {args[name]}")
    if args["eval_every"] < 0:
        ap.error(f"argument --eval-every: must be 0 (off) or positive, got {args['eval_every']}")
    check_eval_truncation(ap, args)
    if not 0 <= args["ema"] < 1:
        ap.error(f"argument --ema: a decay in (0, 1), or 0 for off; got {args['ema']}")
    if args["invert"] != "auto" and args["dataset"] != "folder":
        ap.error(f"argument --invert: applies to --dataset folder, not {args['dataset']}")
    if args["channels"] == 3 and args["dataset"] in GREY_DATASETS:
        ap.error(f"argument --channels: {args['dataset']} is grey; --channels 3 takes colour "
                 "images (--dataset cifar10, or folder)")
    if args["conditional"] and args["dataset"] == "fake":
        ap.error("argument --conditional: --dataset fake is random noise, with no classes "
                 "to tell the networks")
    if args["balanced_batches"] and not args["conditional"] and not args["resume"]:
        ap.error("argument --balanced-batches: balances the classes of --conditional's "
                 "batches; give --conditional too")
    if args["eval_every"] and args["dataset"] == "fake":
        ap.error("argument --eval-every: --dataset fake is random noise, with no classes "
                 "to score generated images against")
    if args["cr_shift"] is not None and not args["resume"] and not recipe_of(args).cr:
        ap.error("argument --cr-shift: shifts the images of --cr's consistency term, which is "
                 "off: give --cr LAMBDA too (or --recipe better)")
    if args["resume"] and args["overwrite"]:
        ap.error("argument --overwrite: not allowed with --resume")
    check_output_folder(ap, args["output"])
    if args["dataset"] == "folder" and inside(args["output"], args["data_dir"]):
        ap.error(f"argument -o/--output: {args['output']} is inside --data-dir "
                 f"{args['data_dir']}: the run's montages would become training images; "
                 "choose a folder outside it")


# what a command recorded for others names instead of this machine's paths, and
# the options of one invocation that do not change what is trained
PLACEHOLDERS = {"output": "OUTPUT", "data_dir": "DIR", "tensorboard": "LOGDIR"}
NOT_IN_COMMAND = ("resume", "overwrite", "stop_after", "no_progress")


def command_of(ap, args):
    """The dcgan_mnist.py command that trains the run of `args` (with
    --resume, the merged arguments: the whole run): the options whose value
    is not the default, the paths as OUTPUT, DIR (the data) and LOGDIR
    (--tensorboard's: two paths, two names), each value quoted for the
    shell where it needs it (--diffaug 'translation, colour'), so that the
    command pasted runs with the same arguments. run.json and an export's
    model card keep it."""
    words = ["python", "dcgan_mnist.py"]
    for action in ap._actions:
        name, value = action.dest, args.get(action.dest)
        if (isinstance(action, argparse._HelpAction) or name in NOT_IN_COMMAND
                or (value == action.default and name != "output")):
            continue
        flag = max(action.option_strings, key=len)        # --batch-size, not -b
        if name in PLACEHOLDERS and value is not True:
            words += [flag, PLACEHOLDERS[name]]
        elif value is True:
            words.append(flag)              # store_true, or --tensorboard into OUTPUT/tensorboard
        else:
            words += [flag, shlex.quote(str(value))]
    return " ".join(words)


def inside(path, folder):
    """Whether `path` is `folder` or lies within it (links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder
