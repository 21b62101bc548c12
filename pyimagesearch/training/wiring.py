"""Wiring the article's models for this device and these options, without
changing their math: the memory layout, the exponential moving average of
the generator, the gradient averaging of torchrun, and the --amp and
--compile wrappers."""

import torch

from ..device import Autocast, memory_format
from . import distributed
from .ema import GeneratorEMA


def lay_out(gen, disc, device):
    """The same weights in the memory layout the device computes fastest in."""
    # NOTE(deviation 13): channels_last on the CPU, where oneDNN runs fastest
    layout = memory_format(device)
    gen.to(memory_format=layout)
    disc.to(memory_format=layout)


def average_of(gen, decay):
    """--ema: the GeneratorEMA of `gen`, or None when decay is 0."""
    return GeneratorEMA(gen, decay) if decay else None


def hook_steps(gen, genOpt, discOpt, ema, ctx):
    """Every Adam step uses the gradients averaged over the processes of
    `ctx` (nothing to average in one process); with an EMA, the average
    follows every generator step."""
    for opt in (genOpt, discOpt):
        params = [p for group in opt.param_groups for p in group["params"]]
        opt.register_step_pre_hook(
            lambda *_, params=params: distributed.average_gradients(params, ctx))
    if ema is not None:
        genOpt.register_step_post_hook(lambda *_: ema.update(gen))


def modules_to_train(gen, disc, deviceType, amp, compile):
    """`gen` and `disc` themselves, or wrappers around the same weights:
    bf16 autocast (--amp), torch.compile (--compile)."""
    if amp:
        gen, disc = Autocast(gen, deviceType), Autocast(disc, deviceType)
    if compile:
        gen, disc = torch.compile(gen), torch.compile(disc)
    return gen, disc
