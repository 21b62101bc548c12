"""Sample-quality numbers from the evaluator (pyimagesearch/evaluator.py).

- fld: Fréchet distance between Gaussian fits of the evaluator's penultimate
  features of generated and of held-out real images ("Fréchet LeNet
  Distance"; lower is better);
- real_fld: the same between real images the evaluator trained on and the
  held-out ones, at a comparable sample size: the floor to read fld against;
- inception_score: exp(E_x[KL(p(y|x) || p(y))]) with the evaluator's class
  probabilities, from 1 (one class, or no confident class) to the number of
  classes (confident and balanced);
- class_histogram, classes_covered: the evaluator's predicted class of each
  sample, and how many classes hold at least half their fair share; mode
  collapse shows here;
- precision, recall, density, coverage: fidelity and diversity, apart, from
  nearest neighbours in the evaluator's feature space (neighbours.py);
- memorisation: whether samples sit closer to training images than new
  images of the same kind do (neighbours.memorisation);
- evaluator_accuracy: the evaluator's accuracy on the held-out real images;
- for a conditional generator (--conditional), drawn class-balanced:
  conditioning (how often the evaluator's class is the one asked for,
  overall, per class and for the worst class) and, per class, the FLD
  against that class's held-out images and the recall; their means.
"""

import math

import torch

from ..errors import printable
from ..models import class_count, noise_dim
from ..sampling import latent
from .evaluator import held_out_count, held_out_in_train, load_or_train, predict, split_real
from .neighbours import DC_K, PR_K, memorisation, precision_recall_density_coverage

# fewest held-out real images the neighbour metrics can be computed on
MIN_HELD_OUT = max(PR_K, DC_K) + 1

COVERAGE_SHARE = 0.5
# reference images for the memorisation check: at most this many training
# images, each against the rest of the training set
REFERENCE_IMAGES = 2000


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


def classes_covered(histogram, share=COVERAGE_SHARE):
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
    held = held_out_count(imageSet)
    if held < MIN_HELD_OUT:
        return (f"the quality metrics compare samples with at least {MIN_HELD_OUT} held-out "
                f"real images (their {max(PR_K, DC_K)} nearest neighbours); these images "
                f"hold out {held} of {len(imageSet):,}")
    return None


def can_score(imageSet):
    return why_not_scorable(imageSet) is None


class Scorer:
    """Everything about the real images computed once; then `score(gen)`
    for as many generators as needed.

    trainedOn: the images the GAN was trained on (uint8), for the
    memorisation check; None: all of imageSet's."""

    def __init__(self, imageSet, seed=0, device="cpu", num=10_000, log=print, trainedOn=None):
        self.device, self.num, self.seed = device, num, seed
        self.split = split_real(imageSet, seed)
        self.model, self.accuracy, self.cachePath = load_or_train(
            self.split, seed, device, log)
        self.numClasses = self.model.fc2.out_features
        # as the log, metrics.json and an export's card show them: escaped (a folder's name)
        self.classNames = [printable(c) for c in imageSet.classes or range(self.numClasses)]
        self.overlap = held_out_in_train(self.split)
        if self.overlap:
            log(f"[WARNING] {self.overlap:,} of the {len(self.split.heldOutImages):,} held-out "
                "images are also training images (the same pixels): the evaluator's accuracy "
                "and every comparison with held-out images measure memory, not new images; "
                "give test files with other images than the training files")
        self.heldOutFeatures, _ = predict(self.model, self.split.heldOutImages, device)
        self.heldOutFit = gaussian_fit(self.heldOutFeatures)

        # the floor: as many real training images as there will be samples
        # (or all of them), against the same held-out set
        order = torch.randperm(len(self.split.trainImages),
                               generator=torch.Generator().manual_seed(seed))
        realFeatures, _ = predict(self.model, self.split.trainImages[order[:num]], device)
        self.realFld = frechet_distance(*gaussian_fit(realFeatures), *self.heldOutFit)
        self.numReal = len(realFeatures)
        self.imageSet = imageSet
        self.trainedOn = imageSet.images if trainedOn is None else trainedOn
        self.copying = None          # the memorisation check's real features, when first needed

    def _copying_reference(self):
        """The GAN's training images' features, and reference images: real
        images the GAN never saw when there are at least REFERENCE_IMAGES of
        them (a run with --limit), else training images, each measured
        against the rest of the training set (leave-one-out)."""
        if self.copying is None:
            train, _ = predict(self.model, self.trainedOn, self.device)
            unseen = self.imageSet.images[len(self.trainedOn):]
            if len(unseen) >= REFERENCE_IMAGES:
                reference, _ = predict(self.model, unseen[:REFERENCE_IMAGES], self.device)
                kind = f"{len(reference):,} real images the GAN did not train on"
                leaveOneOut = False
            else:
                pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.seed))
                reference = train[pick[:REFERENCE_IMAGES]]
                kind = (f"{len(reference):,} training images, each against the rest of the "
                        "training set (all real images were trained on)")
                leaveOneOut = True
            self.copying = (train, reference, kind, leaveOneOut)
        return self.copying

    def score_images(self, images, nearest=False, asked=None):
        """Metrics of images in [-1, 1] (N, C, S, S). nearest=True also
        returns, for every image, the index of its nearest training image
        (in trainedOn) and the distance to it in feature space. asked (N,):
        the class each image was drawn as (a conditional generator's), for
        the conditioning numbers."""
        features, probs = predict(self.model, images, self.device)
        histogram = class_histogram(probs)
        m = min(len(features), len(self.heldOutFeatures))     # equal sizes
        train, reference, kind, leaveOneOut = self._copying_reference()
        copying, nearestIndex, distance = memorisation(train, reference, features, leaveOneOut)
        scores = {
            "fld": frechet_distance(*gaussian_fit(features), *self.heldOutFit),
            "real_fld": self.realFld,
            "inception_score": inception_score(probs),
            "class_histogram": histogram,
            "class_names": self.classNames,
            "classes_covered": classes_covered(histogram),
            **precision_recall_density_coverage(self.heldOutFeatures[:m], features[:m]),
            "memorisation": dict(copying, reference=kind),
            "num_classes": self.numClasses,
            "evaluator_accuracy": self.accuracy,
            "num_samples": len(images),
            "num_held_out": len(self.heldOutFeatures),
            "held_out_in_train": self.overlap,
            "num_for_neighbours": m,
            "num_real_for_floor": self.numReal,
        }
        if asked is not None:
            scores["conditioning"] = self.conditioning(features, probs, asked)
        return (scores, (nearestIndex, distance)) if nearest else scores

    def conditioning(self, features, probs, asked):
        """How a conditional generator's samples (features, probs) fit the
        classes `asked` (N,): accuracy overall, per class and the worst;
        per class the FLD against that class's held-out images and the
        recall; the means over the classes."""
        asked = asked.cpu()
        right = probs.argmax(1) == asked
        real = self.split.heldOutLabels.cpu()
        perClass = {}
        for c in range(self.numClasses):
            mine, theirs = asked == c, real == c
            if not mine.any():
                continue
            numbers = {"accuracy": right[mine].double().mean().item(), "samples": int(mine.sum())}
            if mine.sum() >= MIN_HELD_OUT and theirs.sum() >= MIN_HELD_OUT:
                m = int(min(mine.sum(), theirs.sum()))
                numbers["fld"] = frechet_distance(*gaussian_fit(features[mine]),
                                                  *gaussian_fit(self.heldOutFeatures[theirs]))
                numbers["recall"] = precision_recall_density_coverage(
                    self.heldOutFeatures[theirs][:m], features[mine][:m])["recall"]
            perClass[self.classNames[c]] = numbers
        worst = min(perClass, key=lambda name: perClass[name]["accuracy"])
        fld = [n["fld"] for n in perClass.values() if "fld" in n]
        recall = [n["recall"] for n in perClass.values() if "recall" in n]
        return {"accuracy": right.double().mean().item(), "worst_class": worst,
                "worst_accuracy": perClass[worst]["accuracy"],
                "mean_class_fld": sum(fld) / len(fld) if fld else None,
                "mean_class_recall": sum(recall) / len(recall) if recall else None,
                "per_class": perClass}

    def score(self, gen, nearest=False, truncation=None):
        """Metrics of `num` samples of `gen` from noise seeded by `seed`: the
        same noise every time, so numbers from different epochs compare.
        truncation: the noise truncated at T (latent.noise; None: not).
        nearest=True: also the samples and (their nearest training images'
        indices, the distances)."""
        z = latent.noise(self.num, self.seed, noise_dim(gen), truncation)
        asked = balanced_classes(self.num, class_count(gen))     # None: unconditional
        images = latent.generate(gen, z, self.device, asked)
        said = {} if truncation is None else {"truncation": truncation}
        if not nearest:
            return {**self.score_images(images, asked=asked), **said}
        scores, index = self.score_images(images, nearest=True, asked=asked)
        return {**scores, **said}, images, index


def balanced_classes(num, numClasses):
    """`num` classes, each of `numClasses` as often (0, 1, ..., K-1, 0, ...);
    None without classes."""
    return None if not numClasses else torch.arange(num) % numClasses


def summary(metrics):
    """Human-readable lines for a metrics dict."""
    names = metrics.get("class_names") or [str(i) for i in range(len(metrics["class_histogram"]))]
    hist = ", ".join(f"{printable(name)} {count}"
                     for name, count in zip(names, metrics["class_histogram"]))
    copying = metrics["memorisation"]
    return [
        f"FLD (lower is better): {metrics['fld']:.3f}   real-data floor: {metrics['real_fld']:.3f}",
        f"Inception Score: {metrics['inception_score']:.3f} (1 to {metrics['num_classes']})",
        f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, density "
        f"{metrics['density']:.3f}, coverage {metrics['coverage']:.3f} "
        f"({metrics['num_for_neighbours']:,} samples against as many held-out real images)",
        f"classes covered: {metrics['classes_covered']} of {metrics['num_classes']} hold at "
        f"least half their share; samples per class: {hist}",
        f"memorisation: {copying['share_closer']:.1%} of the samples are closer to a training "
        f"image than {1 - copying['expected']:.0%} of new real images are (about "
        f"{copying['expected']:.0%} without copying); "
        + (f"median distance ratio {copying['median_distance_ratio']:.2f}"
           if copying['median_distance_ratio'] is not None else
           "no median distance ratio (the reference images are training images: their median "
           "distance to the training set is 0)") + f", Z_U {copying['z_u']:.1f}",
        f"evaluator accuracy on {metrics['num_held_out']:,} held-out real images: "
        f"{metrics['evaluator_accuracy']:.2%}"
        + (f" ({metrics['held_out_in_train']:,} of them are training images)"
           if metrics.get("held_out_in_train") else ""),
    ] + conditioning_summary(metrics.get("conditioning"))


def conditioning_summary(numbers):
    """The lines of a conditional generator's numbers (none without)."""
    if not numbers:
        return []
    lines = [f"conditioning: the evaluator agrees with the class asked for on "
             f"{numbers['accuracy']:.1%} of the samples; worst class "
             f"{printable(numbers['worst_class'])} "
             f"{numbers['worst_accuracy']:.1%}"]
    if numbers["mean_class_fld"] is not None:
        lines.append(f"per class: mean FLD {numbers['mean_class_fld']:.3f}, mean recall "
                     f"{numbers['mean_class_recall']:.3f}")
    return lines


def truncation_curve(scorer, gen, truncations, log=None, scored=None):
    """The scores of `gen` untruncated and at each truncation T (sorted,
    highest first: from most variety to most fidelity), each from the
    scorer's same seed: [{"truncation": T or None, "as_asked", "worst_class",
    "worst_as_asked" (None for an unconditional generator), "fld",
    "precision", "recall", "inception_score"}]. scored: {T: scores} already
    computed by scorer.score."""
    rows, scored = [], scored or {}
    for T in [None] + sorted(set(truncations), reverse=True):
        scores = scored[T] if T in scored else scorer.score(gen, truncation=T)
        told = scores.get("conditioning")
        rows.append({"truncation": T, "fld": scores["fld"], "precision": scores["precision"],
                     "recall": scores["recall"], "inception_score": scores["inception_score"],
                     "as_asked": told and told["accuracy"],
                     "worst_class": told and told["worst_class"],
                     "worst_as_asked": told and told["worst_accuracy"]})
        if log:
            log("[INFO] " + curve_lines(rows[-1:])[-1].strip())
    return rows


def curve_lines(rows):
    """A truncation curve (truncation_curve's rows) as the lines of a table."""
    told = rows and rows[0]["as_asked"] is not None
    lines = [f"{'T':>5}  " + (f"{'as asked':>8}  {'worst class':>16}  " if told else "")
             + f"{'FLD':>8}  {'precision':>9}  {'recall':>6}"]
    for row in rows:
        T = "none" if row["truncation"] is None else f"{row['truncation']:g}"
        worst = (f"{printable(row['worst_class'])[:9]}: {row['worst_as_asked']:.1%}"
                 if told else "")
        lines.append(f"{T:>5}  " + (f"{row['as_asked']:>8.1%}  {worst:>16}  " if told else "")
                     + f"{row['fld']:>8.3f}  {row['precision']:>9.3f}  {row['recall']:>6.3f}")
    return lines
