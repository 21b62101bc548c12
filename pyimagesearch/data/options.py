"""The options that name a saved run's real images, for generate.py and
evaluate.py (by default the run's own, read from its checkpoint)."""

import os

from ..errors import printable
from .folder import INVERT_CHOICES
from .sources import SCORABLE


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


def check_named_data_dir(ap, args):
    """A --data-dir the user named must be a folder, whether or not this
    command reads it (a conditional generator draws without real images):
    a mistyped name is said, not ignored; the embedded fallback is the
    training script's default alone."""
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        what = "is not a folder" if os.path.exists(args.data_dir) else "does not exist"
        ap.error(f"argument --data-dir: {printable(str(args.data_dir))[:200]} {what}; name the "
                 "folder of the real images, or leave --data-dir out")
