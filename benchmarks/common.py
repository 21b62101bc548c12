"""What the benchmark scripts share: the GAN built as dcgan_mnist.py builds it."""

import os
import sys

import torch
from torch.optim import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

import dcgan_mnist                                          # noqa: E402
from pyimagesearch.dcgan import Discriminator, Generator    # noqa: E402


def build_gan(seed, epochs, device, project=True, fused=True):
    """G, D and their Adams, initialised as the article does from `seed`.

    project=True: as dcgan_mnist.py trains them (its memory layout and,
    with fused, its fused Adam); False: exactly the article's.
    Returns gen, disc, genOpt, discOpt, layout."""
    torch.manual_seed(seed)
    gen = Generator(inputDim=100, outputChannels=1)
    gen.apply(dcgan_mnist.weights_init)
    gen.to(device)
    disc = Discriminator(depth=1)
    disc.apply(dcgan_mnist.weights_init)
    disc.to(device)
    layout = dcgan_mnist.memory_format(device) if project else torch.contiguous_format
    gen.to(memory_format=layout)
    disc.to(memory_format=layout)
    fast = dcgan_mnist.fused_adam(device) if project and fused else {}
    genOpt = Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999),
                  weight_decay=0.0002 / epochs, **fast)
    discOpt = Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999),
                   weight_decay=0.0002 / epochs, **fast)
    return gen, disc, genOpt, discOpt, layout
