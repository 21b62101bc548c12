"""What the three scripts' command lines share: argparse types that say
what they expected, the help formatter that ends every help with its
default, and checks of output paths."""

import argparse
import math
import os
import tempfile

from .files import name_problem
from .noise import MAX_TRUNCATION, MIN_TRUNCATION

MAX_SEED = 2**63 - 1
# fewest samples a Fréchet distance is computed from: twice the evaluator's
# 128 feature dimensions, so that the covariance of the samples can be of full
# rank; fewer give numbers that mean nothing
MIN_EVAL_SAMPLES = 256
# most samples one evaluation generates and scores: 10 x the default, which
# takes about a minute on 2 CPU cores and 0.5 GB (more gains no precision)
MAX_EVAL_SAMPLES = 100_000


def _number(text, convert, ok, expected):
    """argparse type: `text` converted, or argparse's usage error saying
    what was `expected`."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {_quoted(text)}") from None
    if not ok(value):
        # the number read, not the text: it may hold spaces, newlines, control characters
        shown = shown_number(value) if isinstance(value, float) else _quoted(str(value), plain=True)
        raise argparse.ArgumentTypeError(f"must be {expected}, got {shown}")
    return value


def shown_number(value):
    """A float as a refusal shows it: in 12 significant digits, or every digit
    Python needs to tell it apart when those round it (10.0000001 is not
    shown as 10, which would look like a value in range)."""
    shown = f"{value:.12g}"
    return shown if float(shown) == value or not math.isfinite(value) else repr(value)


def _quoted(text, plain=False, limit=60):
    """`text` as a refusal quotes it: repr() (every control character
    escaped) or, plain, as it is; cut to `limit` characters."""
    shown = text if plain else repr(text)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def positive_int(text):
    """argparse type: an integer of at least 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def nonnegative_int(text):
    """argparse type: an integer of at least 0."""
    return _number(text, int, lambda v: v >= 0, "0 or a positive integer")


def count_up_to(maximum, minimum=1):
    """argparse type: a count from `minimum` (1, 0 or more) to `maximum` (every count a
    user gives is bounded: none can take the machine)."""
    def count(text):
        return _number(text, int, lambda v: minimum <= v <= maximum,
                       ("a positive integer of" if minimum == 1 else "0 or a positive integer of"
                        if minimum == 0 else f"an integer of at least {minimum:,} and")
                       + f" at most {maximum:,}")
    return count


def eval_samples(text):
    """argparse type: how many samples to score, MIN_EVAL_SAMPLES to
    MAX_EVAL_SAMPLES."""
    return _number(text, int, lambda v: MIN_EVAL_SAMPLES <= v <= MAX_EVAL_SAMPLES,
                   f"at least {MIN_EVAL_SAMPLES} (twice the evaluator's 128 feature "
                   f"dimensions) for a meaningful FLD, and at most {MAX_EVAL_SAMPLES:,}")


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


def _cannot_make_in(folder):
    """Why no folder can be made in the existing folder `folder` (its
    error's words), or None. os.access says yes to root everywhere, and to
    /proc or a read-only /sys, where mkdir fails: an empty hidden folder is
    made and removed at once, the one sure test, before any other write."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dcgan-probe-", dir=folder))
    except OSError as e:
        return e.strerror or str(e)
    return None


def check_output_folder(ap, path, option="-o/--output"):
    """Refuse, argparse-style, an output folder that cannot be one."""
    if not path.strip():
        ap.error(f"argument {option}: an empty name is not a folder")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        ap.error(f"argument {option}: {path!r} is not a valid UTF-8 name; choose a folder "
                 "whose name is")
    if os.path.islink(path) and not os.path.exists(path):
        ap.error(f"argument {option}: {path} is a symbolic link to nothing (its target is "
                 "missing, or the links form a loop)")
    if os.path.exists(path) and not os.path.isdir(path):
        ap.error(f"argument {option}: {path} is a file, not a folder")
    parent = os.path.abspath(path)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if os.path.islink(parent) and not os.path.exists(parent):
        ap.error(f"argument {option}: {parent} is a symbolic link to nothing, so {path} "
                 "cannot be created")
    if not os.path.isdir(parent):
        ap.error(f"argument {option}: {parent} is a file, so {path} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        ap.error(f"argument {option}: {parent} is not writable")
    problem = _cannot_make_in(parent)
    if problem:
        ap.error(f"argument {option}: {path} cannot be made: {parent} takes no new folder "
                 f"({problem}); choose a folder elsewhere")
    if name_problem(path, folder=True):
        ap.error(f"argument {option}: {name_problem(path, folder=True)}")


def check_writable_file(ap, option, path, suffix):
    """Refuse, argparse-style, an output file that cannot be written."""
    if not path:
        ap.error(f"argument {option}: an empty name; give a file ending in {suffix}")
    if not path.lower().endswith(suffix):
        ap.error(f"argument {option}: {path} must end in {suffix}")
    if os.path.isdir(path):
        ap.error(f"argument {option}: {path} is a folder")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        ap.error(f"argument {option}: the folder {folder} does not exist")
    if name_problem(path):
        ap.error(f"argument {option}: {name_problem(path)}")
    cannot = _cannot_make_in(folder)
    if cannot:
        ap.error(f"argument {option}: nothing can be written in {folder} ({cannot})")


def truncation(text):
    """argparse type: the truncation trick's threshold T, from
    MIN_TRUNCATION to MAX_TRUNCATION."""
    return _number(text, float, lambda v: MIN_TRUNCATION <= v <= MAX_TRUNCATION,
                   f"a number from {MIN_TRUNCATION:g} to {MAX_TRUNCATION:g}")


def positive_float(text):
    """argparse type: a number above 0."""
    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a number above 0")


def positive_float_up_to(maximum):
    """argparse type: a number above 0 and at most `maximum`."""
    def number(text):
        return _number(text, float, lambda v: 0 < v <= maximum,
                       f"a number above 0 and at most {maximum:g}")
    return number




def add_shape_options(ap):
    """--image-size and --channels for the scripts that read a saved
    generator: they say what the caller expects, which it must draw."""
    from .models import CHANNELS, IMAGE_SIZES   # (models imports torch: kept off --help's path)
    ap.add_argument("--image-size", type=int, choices=IMAGE_SIZES, default=None, metavar="S",
        help="the size the generator must draw, one of 28, 32, 64 (default: whatever the "
             "checkpoint's weights draw)")
    ap.add_argument("--channels", type=int, choices=CHANNELS, default=None,
        help="1 or 3: the channels the generator must draw (default: the checkpoint's)")


def check_shape(ap, args, path, gen):
    """argparse's usage error when --image-size or --channels differ from
    what the generator `gen` (built from `path`) draws."""
    for option, asked, has in (("--image-size", args.image_size, gen.imageSize),
                               ("--channels", args.channels, gen.channels)):
        if asked is not None and asked != has:
            ap.error(f"argument {option}: {asked}, but {path} holds a generator of "
                     f"{gen.channels}-channel {gen.imageSize}x{gen.imageSize} images; leave "
                     f"{option} out to use the checkpoint's")


def nonnegative_float(text):
    """argparse type: a number of at least 0."""
    return _number(text, float, lambda v: v >= 0 and math.isfinite(v), "0 or a positive number")


def fraction(text):
    """argparse type: a number in (0, 1]."""
    return _number(text, float, lambda v: 0 < v <= 1, "a fraction in (0, 1]")
