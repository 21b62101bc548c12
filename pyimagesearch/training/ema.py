"""An exponential moving average (EMA) of the generator's weights.

Adversarial training makes the generator's weights oscillate around a good
solution; sampling from their running average smooths that out (Yazıcı et
al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019;
StyleGAN and BigGAN sample from such an average). The average does not take
part in training: the run's losses and its trained generator are exactly
what they would be without it.

BatchNorm running statistics are not averaged: statistics collected for the
live weights do not fit averaged weights. They are re-estimated for the
averaged weights instead (`recalibrate`), over a fixed set of noise batches,
so the result is a deterministic function of the averaged weights.
"""

import copy

import torch
from torch import nn

from ..models import class_count, noise_dim, told

RECALIBRATION_BATCHES = 16
RECALIBRATION_BATCH_SIZE = 256
RECALIBRATION_SEED = 1234


def decay_at(decay, step, warmup=True):
    """The decay used for the update after `step` generator steps (0-based).

    With warm-up, min(decay, (1 + step) / (10 + step)): early on, when the
    weights move fast and the average would be dominated by the random
    initialisation, the average follows them closely (TensorFlow's
    ExponentialMovingAverage with num_updates)."""
    if not warmup:
        return decay
    return min(decay, (1 + step) / (10 + step))


class GeneratorEMA:
    """bn: "recalibrate" (re-estimate the BatchNorm statistics for the
    averaged weights) or "copy" (use the live generator's, copied at every
    update; for comparison)."""

    def __init__(self, gen, decay, warmup=True, bn="recalibrate"):
        self.decay, self.warmup, self.bn = decay, warmup, bn
        self.steps = 0
        self.model = copy.deepcopy(gen).eval()
        self.model.requires_grad_(False)
        self.calibratedAt = None     # steps at which the BN statistics were last fitted

    @torch.no_grad()
    def update(self, gen):
        """ema <- d * ema + (1 - d) * live, for every parameter."""
        d = decay_at(self.decay, self.steps, self.warmup)
        ema = [p for p in self.model.parameters()]
        live = [p.detach() for p in gen.parameters()]
        torch._foreach_lerp_(ema, live, 1 - d)        # ema + (1 - d) * (live - ema)
        if self.bn == "copy":
            for mine, theirs in zip(self.model.buffers(), gen.buffers()):
                mine.copy_(theirs)
        self.steps += 1

    @torch.no_grad()
    def recalibrate(self, device=None):
        """Re-estimate BatchNorm's running mean and variance for the averaged
        weights: reset them, then average the batch statistics of a fixed
        set of generated batches exactly (momentum=None). Returns the model,
        in eval mode."""
        if self.calibratedAt == self.steps or self.bn == "copy":
            return self.model
        device = device or next(self.model.parameters()).device
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None                      # cumulative average
        g = torch.Generator().manual_seed(RECALIBRATION_SEED)
        self.model.train()
        numClasses = class_count(self.model)       # --conditional: every class alike
        labels = None if numClasses is None else \
            (torch.arange(RECALIBRATION_BATCH_SIZE) % numClasses).to(device)
        for _ in range(RECALIBRATION_BATCHES):
            z = torch.randn(RECALIBRATION_BATCH_SIZE, noise_dim(self.model), 1, 1, generator=g)
            told(self.model, z.to(device), labels)
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        self.model.eval()
        self.calibratedAt = self.steps
        return self.model

    def state_dict(self):
        """What a checkpoint needs to continue the average exactly."""
        return {"decay": self.decay, "warmup": self.warmup, "bn": self.bn,
                "steps": self.steps, "model": self.model.state_dict()}

    def load_state_dict(self, state):
        self.decay, self.warmup, self.steps = state["decay"], state["warmup"], state["steps"]
        self.bn = state.get("bn", "recalibrate")
        self.model.load_state_dict(state["model"])
        self.calibratedAt = None
