"""Wiring the article's models for this device and these options, without
changing their math: the memory layout, the exponential moving average of
the generator, the gradient averaging of torchrun, and the --amp and
--compile wrappers."""

import torch

from ..bf16_kernels import few_channel_phases, one_pixel_products
from ..device import Autocast, keep_heap, memory_format
from . import distributed
from .ema import GeneratorEMA


class _FlattenedInChannelsLast(torch.autograd.Function):
    """The identity on values: forward, the contiguous (NCHW) copy flatten
    would make of D's last feature maps; backward, their gradient handed
    back in channels_last, the layout of the activation it meets (a mixed
    pair of layouts makes LeakyReLU's backward ten times slower)."""

    @staticmethod
    def forward(ctx, x):
        return x.contiguous()

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous(memory_format=torch.channels_last)


def _flatten_in_channels_last(module, inputs, output):
    if output.dim() == 4 and output.is_contiguous(memory_format=torch.channels_last):
        return _FlattenedInChannelsLast.apply(output)
    return output


def lay_out(gen, disc, device):
    """The same weights in the memory layout the device computes fastest in,
    and on the CPU the allocator kept from returning memory each step."""
    # NOTE(deviation 13): channels_last on the CPU, where oneDNN runs fastest
    layout = memory_format(device)
    gen.to(memory_format=layout)
    disc.to(memory_format=layout)
    if layout == torch.channels_last:
        # D's last activation before fc1 (leakyRelu2 at 28x28) gets its
        # gradient in its own layout; the allocator keeps its heap
        names = [name for name, _ in disc.named_children()]
        before = getattr(disc, names[names.index("fc1") - 1])
        before.register_forward_hook(_flatten_in_channels_last)
        keep_heap(device)


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


def modules_to_train(gen, disc, deviceType, amp, compile, discOpt=None):
    """`gen` and `disc` themselves, or wrappers around the same weights:
    bf16 autocast (--amp), torch.compile (--compile). Under --amp, D's
    bf16 weight copies are kept between the steps of `discOpt` (D meets the
    same weights twice between two steps; G, once)."""
    if amp:
        if deviceType == "cpu":
            one_pixel_products(gen)          # bf16_kernels.py
            few_channel_phases(gen, disc)
        # (torch.compile traces autocast's own casts: no kept copies under it)
        gen, disc = (Autocast(gen, deviceType),
                     Autocast(disc, deviceType, None if compile else discOpt))
    if compile:
        gen, disc = torch.compile(gen), torch.compile(disc)
    return gen, disc
