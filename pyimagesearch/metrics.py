"""Sample-quality numbers from the evaluator (pyimagesearch/evaluator.py).

- fld: Fréchet distance between Gaussian fits of the evaluator's penultimate
  features of generated and of held-out real images ("Fréchet LeNet
  Distance"; lower is better);
- real_fld: the same between real images the evaluator trained on and the
  held-out ones, at a comparable sample size: the floor to read fld against;
- inception_score: exp(E_x[KL(p(y|x) || p(y))]) with the evaluator's class
  probabilities, from 1 (one class, or no confident class) to the number of
  classes (confident and balanced);
- class_histogram, coverage: the evaluator's predicted class of each sample,
  and how many classes hold at least half their fair share; mode collapse
  shows here;
- evaluator_accuracy: the evaluator's accuracy on the held-out real images.
"""

import math

import torch

from .evaluator import load_or_train, predict, split_real
from . import sampling

COVERAGE_SHARE = 0.5


def gaussian_fit(features):
    """Mean (D,) and covariance (D, D) of features (N, D), in float64."""
    x = features.double()
    mu = x.mean(0)
    centered = x - mu
    sigma = centered.T @ centered / max(1, len(x) - 1)
    return mu, sigma


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).

    The trace of the cross term is computed from the eigenvalues of the
    symmetric matrix S1^1/2 S2 S1^1/2, which is stabler than sqrtm(S1 S2)
    and needs no scipy.
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2                   # symmetric up to rounding
    crossTrace = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * crossTrace
    return max(0.0, value.item())


def frechet_distance_features(a, b):
    return frechet_distance(*gaussian_fit(a), *gaussian_fit(b))


def inception_score(probs, eps=1e-12):
    """exp(mean over samples of KL(p(y|x) || p(y))), p(y) the mean of p(y|x)."""
    probs = probs.double()
    marginal = probs.mean(0, keepdim=True)
    kl = (probs * ((probs + eps).log() - (marginal + eps).log())).sum(1)
    return math.exp(kl.mean().item())


def class_histogram(probs):
    return torch.bincount(probs.argmax(1), minlength=probs.shape[1]).tolist()


def coverage(histogram, share=COVERAGE_SHARE):
    """How many classes hold at least `share` of their fair share (N / K)."""
    fair = sum(histogram) / len(histogram)
    return sum(count >= share * fair for count in histogram)


def why_not_scorable(imageSet):
    """Why the evaluator cannot learn this data (None if it can)."""
    if imageSet.classes is None:
        return ("the quality metrics need class subfolders (DIR/<class>/...) for the "
                "evaluator to learn the classes from; montages, losses, checkpoints and "
                "generate.py work without them")
    if len(imageSet.classes) < 2:
        return ("the quality metrics need at least two classes for the evaluator to learn "
                f"to tell apart; {imageSet.source} has one")
    return None


def can_score(imageSet):
    return why_not_scorable(imageSet) is None


class Scorer:
    """Everything about the real images computed once; then `score(gen)`
    for as many generators as needed."""

    def __init__(self, imageSet, seed=0, device="cpu", num=10_000, log=print):
        self.device, self.num, self.seed = device, num, seed
        self.split = split_real(imageSet, seed)
        self.model, self.accuracy, self.cachePath = load_or_train(
            self.split, seed, device, log)
        self.numClasses = self.model.fc2.out_features
        self.classNames = imageSet.classes or [str(i) for i in range(self.numClasses)]
        self.heldOutFeatures, _ = predict(self.model, self.split.heldOutImages, device)
        self.heldOutFit = gaussian_fit(self.heldOutFeatures)

        # the floor: as many real training images as there will be samples
        # (or all of them), against the same held-out set
        order = torch.randperm(len(self.split.trainImages),
                               generator=torch.Generator().manual_seed(seed))
        realFeatures, _ = predict(self.model, self.split.trainImages[order[:num]], device)
        self.realFld = frechet_distance(*gaussian_fit(realFeatures), *self.heldOutFit)
        self.numReal = len(realFeatures)

    def score_images(self, images):
        """Metrics of images in [-1, 1] (N, 1, 28, 28)."""
        features, probs = predict(self.model, images, self.device)
        histogram = class_histogram(probs)
        return {
            "fld": frechet_distance(*gaussian_fit(features), *self.heldOutFit),
            "real_fld": self.realFld,
            "inception_score": inception_score(probs),
            "class_histogram": histogram,
            "class_names": self.classNames,
            "coverage": coverage(histogram),
            "num_classes": self.numClasses,
            "evaluator_accuracy": self.accuracy,
            "num_samples": len(images),
            "num_held_out": len(self.heldOutFeatures),
            "num_real_for_floor": self.numReal,
        }

    def score(self, gen):
        """Metrics of `num` samples of `gen` from noise seeded by `seed`: the
        same noise every time, so numbers from different epochs compare."""
        z = sampling.noise(self.num, self.seed, gen.ct1.in_channels)
        images = sampling.generate(gen, z, self.device)
        return self.score_images(images)


def summary(metrics):
    """Human-readable lines for a metrics dict."""
    names = metrics.get("class_names") or [str(i) for i in range(len(metrics["class_histogram"]))]
    hist = ", ".join(f"{name} {count}" for name, count in zip(names, metrics["class_histogram"]))
    return [
        f"FLD (lower is better): {metrics['fld']:.3f}   real-data floor: {metrics['real_fld']:.3f}",
        f"Inception Score: {metrics['inception_score']:.3f} (1 to {metrics['num_classes']})",
        f"coverage: {metrics['coverage']} of {metrics['num_classes']} classes hold "
        f"at least half their share; samples per class: {hist}",
        f"evaluator accuracy on {metrics['num_held_out']:,} held-out real images: "
        f"{metrics['evaluator_accuracy']:.2%}",
    ]
