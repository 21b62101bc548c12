"""The demo's parts beside the generator (playground.py): what an
unconditional generator's page needs from its run (the discriminator for
the Langevin sampler, the real images and the evaluator for "give me a
7"), each found or said missing in words; and the data set a conditional
generator's page offers as a zip."""

import dataclasses
import os
import shutil
import tempfile

from ..checkpoint import CheckpointError, build_discriminator
from ..data import load_training_data
from ..data.imageset import DataError
from ..errors import UserError, printable, shorten
from ..quality.evaluator import find_cached, split_real
from ..quality.selection import DigitSelector
from ..sampling.dataset import DataSet, write_zip


@dataclasses.dataclass
class RealParts:
    """disc: the checkpoint's discriminator (the Langevin sampler); split:
    the run's real images, split as the evaluator splits them; classes:
    their class names, escaped as the page shows them; selector: the
    evaluator's DigitSelector; whyNoDigits / whyNoLangevin: why a part is
    missing, in the page's words (None: it is there)."""
    disc: object = None
    split: object = None
    classes: list = None
    selector: object = None
    whyNoDigits: str = None
    whyNoLangevin: str = None


def real_parts(path, saved, gen, trained, device, real, allowDownload):
    """The RealParts of the unconditional generator `gen` of `path`
    (`saved`: the file as read; `trained`: checkpoint.trained_with's, given
    `real`, the real images the user named: (dataset, dataDir, invert)).
    The evaluator is read from its cache only (the page trains it when
    asked). A folder the user named that cannot be read is an error."""
    parts = RealParts()
    try:
        parts.disc = build_discriminator(path, saved, device)
    except CheckpointError as e:
        parts.whyNoLangevin = str(e).split(": ", 1)[-1]
    try:
        imageSet, _ = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                         allowDownload=allowDownload, size=gen.imageSize,
                                         channels=gen.channels, named=real[1] is not None)
        parts.split = split_real(imageSet, trained.seed)
        # as the page shows them: escaped (a class folder's name); by label
        parts.classes = imageSet.classes and [printable(c) for c in imageSet.classes]
    except (DataError, UserError) as e:
        if real[1] is not None:         # the folder the user named: an error, not a shrug
            raise
        why = f"the real images are not at hand ({shorten(e, 120)}); pass --data-dir"
        parts.whyNoDigits = why
        parts.whyNoLangevin = parts.whyNoLangevin or why
        return parts
    if parts.classes is None:
        parts.whyNoDigits = f"{imageSet.source} has no classes"
        return parts
    model, problem = find_cached(parts.split, trained.seed, device)
    if model is None:
        parts.whyNoDigits = (f"the evaluator that labels the samples is {problem}: "
                             "train it (once; it is cached), or run evaluate.py")
    else:
        parts.selector = DigitSelector(gen, model, device, 0)
    return parts


def zip_data_set(gen, classes, description, num, seed, truncation, device, folder):
    """A conditional generator's `num` digits as a zip of class folders of
    PNGs and manifest.json, as generate.py --write-dataset writes them
    (sampling/dataset.py), from `seed` at `truncation`; written whole into
    a new folder inside `folder`. Returns (the zip's path, its folder)."""
    dataSet = DataSet(gen, num, seed, truncation, device, "folder", classes,
                      {"weights": description,
                       "command": f"demo.py, the page's download: {num} digits, seed {seed}"})
    made = tempfile.mkdtemp(prefix="dataset-", dir=folder)
    path = os.path.join(made, f"dcgan-digits-{num}-seed-{seed}.zip")
    try:
        write_zip(path, dataSet)
    except BaseException:
        shutil.rmtree(made, ignore_errors=True)
        raise
    return path, made
