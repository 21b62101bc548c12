"""Choosing samples of one class: the project's evaluator labels every
sample, and with `--digit D` only those it calls D with probability at
least `minConfidence` are kept. (An FLD computed with the same evaluator on
samples it selected is biased in its own favour: no quality gain is
claimed from it.)"""

import torch

from ..sampling import latent
from ..sampling import rejection
from ..sampling.rejection import BATCH, TooFewAccepted, acceptance_message, hopeless
from ..errors import UserError
from .evaluator import predict

MIN_CONFIDENCE = 0.9


def label_of(name, classes):
    """The label of a class given by name or number, or UserError."""
    if name in classes:
        return classes.index(name)
    if name.isdigit() and int(name) < len(classes):
        return int(name)
    raise UserError(f"no class {name!r}: the classes are {', '.join(classes)}")


class DigitSelector:
    """Samples the evaluator calls `label` with at least `minConfidence`."""

    def __init__(self, gen, model, device, seed):
        self.gen, self.model, self.device, self.seed = gen, model, device, seed

    def sample(self, label, num, minConfidence=MIN_CONFIDENCE, maxDraws=None):
        """(images, their noise vectors, numbers); TooFewAccepted after
        maxDraws (by default rejection.MAX_DRAWS, every sampler's limit) samples."""
        maxDraws = rejection.MAX_DRAWS if maxDraws is None else maxDraws
        kept, noise, draws, accepted = [], [], 0, 0
        while accepted < num:
            if hopeless(accepted, draws, num, maxDraws):
                raise TooFewAccepted(acceptance_message(accepted, draws, num, maxDraws))
            z = latent.noise(BATCH, self.seed + draws, self.gen.ct1.in_channels)
            images = latent.generate(self.gen, z, self.device)
            _, probs = predict(self.model, images, self.device)
            keep = (probs.argmax(1) == label) & (probs[:, label] >= minConfidence)
            kept.append(images[keep])
            noise.append(z[keep])
            accepted += int(keep.sum())
            draws += BATCH
        return (torch.cat(kept)[:num], torch.cat(noise)[:num],
                {"draws": draws, "acceptance_rate": accepted / draws})
