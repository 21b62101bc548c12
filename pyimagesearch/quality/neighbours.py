"""Nearest-neighbour metrics in the evaluator's feature space, computed
with scikit-learn's nearest-neighbour search.

Fidelity and diversity, separately (real and generated sets of equal size):

- precision: the share of generated samples that fall inside the real data's
  manifold, the union of balls around every real feature reaching to its
  k-th nearest real neighbour; recall: the share of real samples inside the
  generated manifold, built the same way (Kynkäänniemi et al., "Improved
  Precision and Recall Metric for Assessing Generative Models", NeurIPS
  2019; k = 3, as there);
- density: how many real balls hold each generated sample, over k (about 1
  when the two sets come from one distribution; it rewards samples where
  real data is dense); coverage: the share of real samples whose ball holds
  at least one generated sample (Naeem et al., "Reliable Fidelity and
  Diversity Metrics for Generative Models", ICML 2020; k = 5, as there).

Memorisation (data copying; Meehan, Chaudhuri and Dasgupta, "A
Non-Parametric Test to Detect Data-Copying in Generative Models", AISTATS
2020): how far each generated sample is from its nearest training image,
against how far held-out real images, which the generator never saw, are
from theirs. See `memorisation` for the rule.
"""

import numpy as np

# scikit-learn is imported where it is used: importing it takes about 2 s,
# which every training run and every script would pay, scored or not.

PR_K = 3            # Kynkäänniemi et al. 2019
DC_K = 5            # Naeem et al. 2020
COPY_QUANTILE = 0.05


# a distance below this share of the features' typical length is rounding,
# not a difference: the two images are the same
SAME_IMAGE = 1e-4


def _typical_norm(features):
    return float(np.median(np.linalg.norm(features, axis=1))) if len(features) else 0.0


def _array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def kth_neighbour_radii(features, k):
    """Every point's distance to its k-th nearest *other* point of the set."""
    from sklearn.neighbors import NearestNeighbors      # scikit-learn: see the top
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]                # column 0 is the point itself


def balls_holding(queries, centres, radii):
    """For every query, how many balls (centre i, radius i) hold it:
    d(query, centre_i) <= radius_i. Computed in chunks of rows. The radius
    and the distance come from different routines, which may round a point
    on the boundary (a ball's own k-th neighbour) a little differently: a
    relative tolerance of 1e-9 keeps it inside, as the definition does."""
    from sklearn.metrics import pairwise_distances_chunked      # scikit-learn: see the top
    counts, start = np.zeros(len(queries), dtype=np.int64), 0
    limits = radii[None, :] * (1 + 1e-9) + 1e-12
    for chunk in pairwise_distances_chunked(queries, centres, working_memory=128):
        counts[start:start + len(chunk)] = (chunk <= limits).sum(1)
        start += len(chunk)
    return counts


def precision_recall_density_coverage(real, fake):
    """The four numbers for feature sets real (N, D) and fake (M, D)."""
    from sklearn.neighbors import NearestNeighbors      # scikit-learn: see the top
    real, fake = _array(real), _array(fake)
    realRadii = kth_neighbour_radii(real, PR_K)
    fakeRadii = kth_neighbour_radii(fake, PR_K)
    precision = float((balls_holding(fake, real, realRadii) > 0).mean())
    recall = float((balls_holding(real, fake, fakeRadii) > 0).mean())
    realRadii = kth_neighbour_radii(real, DC_K)
    density = float(balls_holding(fake, real, realRadii).sum() / (DC_K * len(fake)))
    nearestFake = NearestNeighbors(n_neighbors=1).fit(fake).kneighbors(real)[0][:, 0]
    coverage = float((nearestFake <= realRadii).mean())
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def memorisation(train, reference, fake, leaveOneOut=False, quantile=COPY_QUANTILE):
    """Is the generator copying its training images?

    d(x): the distance from x to its nearest training image. For real
    images the GAN did not train on (`reference`), d is what "a new image of
    the same kind" looks like. When every real image was trained on (the
    article trains on all of MNIST), `reference` holds training images and
    leaveOneOut=True measures each against the rest of the training set
    (its nearest *other* training image), the same question one image
    removed. The rule: a generated sample is *closer to the training set
    than new real images typically are* when d(sample) is below the
    `quantile` (5th percentile) of d over the reference images. A generator
    that draws new images of the data's distribution has about 5 % of its
    samples so close (`expected`); one that returns training images 100 %.

    Also: the median of d(sample) / median d(held-out), and Meehan et al.'s
    Z_U, the Mann-Whitney U statistic of d(samples) against d(held-out),
    standardised (about 0 without copying; strongly negative, below -3 say,
    when the samples sit closer to the training images than new images do).

    Returns (numbers, nearest, distance): the JSON-ready numbers, and for
    every sample the index of its nearest training image and the distance.
    """
    from sklearn.neighbors import NearestNeighbors      # scikit-learn: see the top
    train, reference, fake = _array(train), _array(reference), _array(fake)
    index = NearestNeighbors(n_neighbors=2).fit(train)
    dHeld = index.kneighbors(reference)[0][:, 1 if leaveOneOut else 0]
    distances, neighbours = index.kneighbors(fake, n_neighbors=1)
    dFake, nearest = distances[:, 0], neighbours[:, 0]
    threshold = float(np.quantile(dHeld, quantile))
    m, n = len(dFake), len(dHeld)
    ordered = np.sort(dHeld)
    below = np.searchsorted(ordered, dFake, side="left")
    ties = np.searchsorted(ordered, dFake, side="right") - below
    u = float((below + 0.5 * ties).sum())              # pairs with d(sample) > d(held-out)
    z = (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
    numbers = {
        "share_closer": float((dFake < threshold).mean()),
        "expected": quantile,
        "threshold": threshold,
        # None when the reference images sit on training images (a median
        # distance of 0, up to float32 rounding, next to the features' own
        # size: they are training images), where it would be 1e7 to 1e13
        "median_distance_ratio": (float(np.median(dFake) / np.median(dHeld))
                                  if np.median(dHeld) > SAME_IMAGE * _typical_norm(train)
                                  else None),
        "z_u": float(z),
        "num_train": len(train), "num_reference": n, "num_samples": m,
    }
    return numbers, nearest, dFake
