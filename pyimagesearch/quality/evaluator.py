"""The judge of sample quality: a small LeNet-style digit classifier trained
on the real images of the dataset, cached on disk.

Inception-v3 (FID, IS) needs weights from the internet and sees 28x28 digits
as 299x299 blurs; the careful MNIST GAN literature instead scores samples
with a classifier trained on the real data. Its penultimate layer gives the
features for the Fréchet distance, its softmax the class probabilities for
the Inception Score and the class coverage.
"""

import hashlib
import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import files
from ..checkpoint import CheckpointError, load
from ..errors import shorten
from ..data.imageset import to_pixels

# bump when the architecture or the training recipe changes: old cache
# entries are then never reused
EVALUATOR_VERSION = 1
FEATURE_DIM = 128
HELD_OUT_FRACTION = 0.2        # of a data set with one split only
MIN_TRAIN_IMAGES_SEEN = 60_000  # the training budget: at least this many ...
MIN_EPOCHS, MAX_EPOCHS = 3, 30  # ... images, within these many epochs


class DigitClassifier(nn.Module):
    """LeNet-style: two conv/pool blocks, a 128-d feature layer, a linear
    read-out. Takes images (N, channels, size, size) in [-1, 1], like the
    generator's output (shapes below for the article's 1 x 28 x 28)."""

    def __init__(self, numClasses=10, channels=1, size=28):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, kernel_size=3, padding=1)   # (N, 32, 28, 28)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)   # (N, 64, 14, 14)
        self.fc1 = nn.Linear(64 * (size // 4) * (size // 4), FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(FEATURE_DIM, numClasses)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)    # (N, 32, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)    # (N, 64, 7, 7)
        return F.relu(self.fc1(torch.flatten(x, 1)))  # (N, 3136) -> (N, 128)

    def forward(self, x):
        return self.fc2(self.dropout(self.features(x)))   # logits (N, classes)


@dataclass
class Split:
    """Real images for the evaluator: what it trains on and what it is
    tested on (and what generated samples are compared with)."""
    trainImages: torch.Tensor     # (N, C, S, S) uint8
    trainLabels: torch.Tensor
    heldOutImages: torch.Tensor
    heldOutLabels: torch.Tensor
    description: str


def held_out_in_train(split):
    """How many held-out images are also training images, pixel for pixel
    (by each image's SHA-256): test files that copy the training files make
    the held-out numbers measure memory, not new images."""
    seen = {hashlib.sha256(image.tobytes()).digest() for image in split.trainImages.numpy()}
    return sum(hashlib.sha256(image.tobytes()).digest() in seen
               for image in split.heldOutImages.numpy())


def held_out_count(imageSet):
    """How many images split_real holds out of `imageSet`."""
    bounds = imageSet.split_range("test")
    if bounds and len(imageSet.splits) > 1:
        return bounds[1] - bounds[0]
    return max(1, round(len(imageSet) * HELD_OUT_FRACTION))


def held_out_indices(imageSet, seed=0):
    """(training indices, held-out indices, how they were chosen) of
    split_real: the official test split when there is one; otherwise a
    seeded 20% of the images."""
    bounds = imageSet.split_range("test")
    if bounds and len(imageSet.splits) > 1:
        start, stop = bounds
        inTest = torch.zeros(len(imageSet), dtype=torch.bool)
        inTest[start:stop] = True
        return (~inTest).nonzero().squeeze(1), inTest.nonzero().squeeze(1), \
            "official train / test splits"
    order = torch.randperm(len(imageSet), generator=torch.Generator().manual_seed(seed))
    numHeld = max(1, round(len(imageSet) * HELD_OUT_FRACTION))
    return order[numHeld:].sort().values, order[:numHeld].sort().values, \
        f"one split: a seeded {HELD_OUT_FRACTION:.0%} held out"


def split_real(imageSet, seed=0):
    """The official test split is held out when there is one; otherwise a
    seeded 20% of the images."""
    train, held, description = held_out_indices(imageSet, seed)
    return Split(imageSet.images[train], imageSet.labels[train],
                 imageSet.images[held], imageSet.labels[held],
                 f"{description} ({len(train):,} train, {len(held):,} held out)")


def epochs_for(numImages):
    return min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(MIN_TRAIN_IMAGES_SEEN / numImages)))


def fit_classifier(model, images, labels, epochs, batchSize, lr, maxLr, seed, device,
                   augment=None, report=None):
    """Train `model` on uint8 `images` (N, C, S, S) and `labels` (N,): Adam
    with the one-cycle schedule up to maxLr, batches in an order drawn by a
    generator seeded with `seed`, which `augment(x, generator)` (pixels in
    [-1, 1]) draws from too; report(epoch, loss) after each epoch. The
    evaluator's recipe and CAS's (quality/cas.py) differ only in these
    arguments. Returns the model in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(images) / batchSize)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=maxLr, total_steps=steps)
    stream = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        for index in torch.randperm(len(images), generator=stream).split(batchSize):
            x = to_pixels(images[index].to(device))
            if augment is not None:
                x = augment(x, stream)
            loss = F.cross_entropy(model(x), labels[index].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        if report:
            report(epoch + 1, loss.item())
    return model.eval()


def train_classifier(split, seed=0, device="cpu", batchSize=128, log=None):
    """Train a DigitClassifier on split.trainImages; deterministic for a
    seed on a given device. Leaves the global random state untouched."""
    numClasses = int(max(split.trainLabels.max(), split.heldOutLabels.max())) + 1
    epochs = epochs_for(len(split.trainImages))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(numClasses, *image_shape(split)).to(device)
        fit_classifier(model, split.trainImages, split.trainLabels, epochs, batchSize, 1e-3, 2e-3,
                       seed, device, report=log and (lambda epoch, loss: log(
                           f"[INFO] evaluator epoch {epoch}/{epochs}: loss {loss:.4f}")))
    return model, numClasses


@torch.no_grad()
def predict(model, images, device, batchSize=1000):
    """(features (N, 128), class probabilities (N, classes)) of images in
    [-1, 1] (float) or uint8 images; float64 on the CPU."""
    model.eval()
    feats, probs = [], []
    for chunk in images.split(batchSize):
        x = to_pixels(chunk) if chunk.dtype == torch.uint8 else chunk
        f = model.features(x.to(device))
        feats.append(f.double().cpu())
        probs.append(F.softmax(model.fc2(f), dim=1).double().cpu())
    return torch.cat(feats), torch.cat(probs)


def image_shape(split):
    """(channels, size) of the split's images."""
    return split.trainImages.shape[1], split.trainImages.shape[-1]


def accuracy(model, images, labels, device):
    _, probs = predict(model, images, device)
    return (probs.argmax(1) == labels).double().mean().item()


def cache_key(split, seed, device):
    h = hashlib.sha256()
    for tensor in (split.trainImages, split.trainLabels, split.heldOutImages,
                   split.heldOutLabels):
        h.update(tensor.contiguous().numpy().tobytes())
    h.update(f"v{EVALUATOR_VERSION} seed {seed} {torch.device(device).type}".encode())
    return h.hexdigest()[:24]


def _cached(path, split, device):
    """(model, accuracy, None) from a cache file, or (None, None, what is
    wrong with it). Nothing in it is trusted: its version, its number of
    classes and its weights are checked, and its accuracy on the held-out
    images is measured again: a foreign or planted file cannot match it."""
    try:
        saved = load(path)
        if not isinstance(saved, dict) or saved.get("version") != EVALUATOR_VERSION:
            return None, None, "another version's"
        numClasses = int(split.trainLabels.max()) + 1
        if saved.get("num_classes") != numClasses or not isinstance(saved.get("model"), dict):
            return None, None, "made for other classes"
        with torch.random.fork_rng(devices=[]):          # (its random init is overwritten)
            model = DigitClassifier(numClasses, *image_shape(split))
        model.load_state_dict(saved["model"])
        if not all(torch.isfinite(t).all() for t in model.state_dict().values()):
            return None, None, "its weights are not finite"
        model = model.to(device).eval()
        measured = accuracy(model, split.heldOutImages, split.heldOutLabels, device)
        if not isinstance(saved.get("accuracy"), float) or abs(measured - saved["accuracy"]) > 1e-6:
            return None, None, "its accuracy on the held-out images is not the one it claims"
        return model, measured, None
    except (CheckpointError, KeyError, RuntimeError, TypeError, ValueError) as e:
        return None, None, f"unreadable: {shorten(e, 80)}"


def cache_path(split, seed, device):
    return os.path.join(files.cache_dir(), f"evaluator-{cache_key(split, seed, device)}.pt")


def find_cached(split, seed=0, device="cpu"):
    """(model, accuracy) of the evaluator for these real images when it was
    trained and cached before, else (None, what is missing); never trains."""
    path = cache_path(split, seed, device)
    if not os.path.exists(path):
        return None, "not trained for these images yet"
    model, acc, problem = _cached(path, split, device)
    return (model, acc) if problem is None else (None, f"its cache file is {problem}")


def load_or_train(split, seed=0, device="cpu", log=print):
    """The evaluator for these real images: from the cache when it was
    trained before (same images, seed, recipe and device type), else
    trained now and cached. Returns (model, accuracy, cachePath)."""
    path = cache_path(split, seed, device)
    if os.path.exists(path):
        model, acc, problem = _cached(path, split, device)
        if problem is None:
            return model, acc, path
        log(f"[INFO] ignoring the evaluator cache file {path} ({problem}); training it again")
    log(f"[INFO] training the evaluator on {split.description} "
        f"({epochs_for(len(split.trainImages))} epochs; cached afterwards)...")
    model, numClasses = train_classifier(split, seed, device)
    acc = accuracy(model, split.heldOutImages, split.heldOutLabels, device)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files.save_torch(path, {"model": model.state_dict(), "num_classes": numClasses,
                                "accuracy": acc, "version": EVALUATOR_VERSION})
    except (OSError, files.WriteError) as e:
        log(f"[INFO] could not cache the evaluator in {path} ({e}); it will be retrained next time")
    return model, acc, path
