"""CIFAR-10 (60,000 colour images of 32x32, ten classes) from the files
torchvision downloads: `DIR/cifar-10-batches-py/` (data_batch_1 ... 5, then
test_batch, and batches.meta with the class names), read here without the
network. The batches are Python pickles; they are read by an unpickler that
builds nothing but NumPy arrays, so a planted file cannot run code."""

import codecs
import io
import os
import pickle

import numpy as np
import torch

from .imageset import DataError, ImageSet

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
SIDE = 32


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays; refuses
    any other global (what a malicious pickle calls to run code)."""

    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return np.zeros(0).__reduce__()[0]      # numpy's own array rebuilder, either version
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":       # bytes, in Python 3's protocol 2
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to build {module}.{name}")


def _read(path):
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(io.BytesIO(f.read()), encoding="latin1").load()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    except Exception as e:  # noqa: BLE001 - a torn or foreign file
        raise DataError(f"{path}: not a CIFAR-10 batch file ({type(e).__name__}: {e}); "
                        "download it again") from None


def find_cifar(dataDir):
    """The folder of CIFAR-10's batch files under `dataDir` (itself, or
    torchvision's DIR/cifar-10-batches-py), or None."""
    for folder in (os.path.join(dataDir, FOLDER), dataDir):
        if os.path.isfile(os.path.join(folder, TEST_BATCH)) or \
                os.path.isfile(os.path.join(folder, TRAIN_BATCHES[0])):
            return folder
    return None


def load_cifar_folder(folder):
    """An ImageSet (N, 3, 32, 32) of the batch files in `folder`: the five
    training batches first, then the test batch (each split only when all
    of its files are there)."""
    present = {name for name in TRAIN_BATCHES + (TEST_BATCH,)
               if os.path.isfile(os.path.join(folder, name))}
    missing = [name for name in TRAIN_BATCHES if name not in present]
    if missing and len(missing) < len(TRAIN_BATCHES):
        raise DataError(f"{folder}: {', '.join(missing)} missing of CIFAR-10's five training "
                        "batches; download them again")
    images, labels, splits = [], [], {}
    for split, names in (("train", TRAIN_BATCHES), ("test", (TEST_BATCH,))):
        if not all(name in present for name in names):
            continue
        count = 0
        for name in names:
            path = os.path.join(folder, name)
            batch = _read(path)
            data = batch.get("data") if isinstance(batch, dict) else None
            batchLabels = batch.get("labels") if isinstance(batch, dict) else None
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                    and data.shape[1] == 3 * SIDE * SIDE and isinstance(batchLabels, list)
                    and len(batchLabels) == len(data)):
                raise DataError(f"{path}: not a CIFAR-10 batch (no 'data' of N x 3072 bytes "
                                "with as many 'labels'); download it again")
            labelArray = np.asarray(batchLabels, dtype=np.int64)
            if labelArray.size and not (0 <= labelArray.min() and labelArray.max() < 10):
                raise DataError(f"{path}: labels outside 0-9; download it again")
            images.append(torch.from_numpy(data.reshape(-1, 3, SIDE, SIDE).copy()))   # (N, 3, 32, 32), RGB
            labels.append(torch.from_numpy(labelArray))
            count += len(data)
        splits[split] = count
    return ImageSet(images=torch.cat(images), labels=torch.cat(labels),
                    source=f"CIFAR-10 batch files in {folder}", splits=splits,
                    classes=class_names(folder))


def class_names(folder):
    """batches.meta's label names when it is there, else CIFAR-10's."""
    path = os.path.join(folder, "batches.meta")
    if os.path.isfile(path):
        meta = _read(path)
        names = meta.get("label_names") if isinstance(meta, dict) else None
        if isinstance(names, list) and len(names) == 10 and all(isinstance(n, str) for n in names):
            return names
    return list(CLASS_NAMES)
