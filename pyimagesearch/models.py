"""The article's DCGAN at each image size: at 28x28 its own classes
(`dcgan.Generator`, `dcgan.Discriminator`), at 32x32 and 64x64 the same
layer pattern, sized by the table in docs/sizes.md.

    Generator:     CONVT => RELU => BN blocks, then CONVT => TANH
    Discriminator: CONV => LEAKYRELU blocks, FC => LEAKYRELU, FC => SIGMOID

The layers keep the article's attribute names, numbered the same way
(ct1, relu1, batchNorm1, ..., tanh; conv1, leakyRelu1, ..., fc1, fc2,
sigmoid), so a 32 or 64 state_dict reads like the article's, one block
longer at 64. `channels` is the article's `outputChannels` / `depth`: 1
for grey, 3 for colour (RGB).

--conditional (docs/conditional.md): the same classes told the class of
each image.

    ConditionalArticleGenerator(inputDim=100, outputChannels=1, numClasses=10)
        the article's Generator whose input is the noise followed by a
        one-hot code of the class: Generator(inputDim=100 + K);
        gen(noise, labels)
    ConditionalArticleDiscriminator(depth=1, numClasses=10)
        the article's Discriminator plus one module, `embed`: the projection
        discriminator of Miyato & Koyama (2018), which adds to fc2's logit
        the dot product of the class's embedding with D's 512 features
        after fc1, before the Sigmoid; disc(images, labels)

and the same at 32 and 64 (ConditionalSized...). Every layer and attribute
name of the article's classes stays, so the article's state_dict keys are a
subset of theirs; the generator keeps its class count as a buffer,
`numClasses`, so that its state_dict alone says what it is. `told(model,
x, labels)` is the one call the training loop makes: model(x) without
labels (the article's), model(x, labels) with.
"""

from functools import partial

import torch
from torch import flatten, nn
from torch.nn import (BatchNorm2d, Conv2d, ConvTranspose2d, Embedding, LeakyReLU, Linear, ReLU,
                      Sigmoid, Tanh)
from torch.nn.functional import one_hot

from .dcgan import Discriminator, Generator

IMAGE_SIZES = (28, 32, 64)
CHANNELS = (1, 3)

# the generator's transposed convolutions after the first, which maps the
# (N, inputDim, 1, 1) noise to (N, width[0], 4, 4) (kernel 4, stride 2,
# padding 0, as the article's ct1): (out channels, kernel, stride, padding);
# the last one's out channels are the image's
GENERATOR_WIDTHS = {32: (128, 64, 32), 64: (256, 128, 64, 32)}
# the discriminator's convolutions, each kernel 4, stride 2, padding 1
# (halving the size, as the article's conv1 and conv2), then FC => 512
DISCRIMINATOR_WIDTHS = {32: (32, 64), 64: (32, 64, 128)}
HIDDEN = 512


class SizedGenerator(nn.Module):
    """The article's Generator at 32x32 or 64x64: the first CONVT => RELU =>
    BN block makes 4x4, every further one doubles the size, the last CONVT
    => TANH gives (N, outputChannels, imageSize, imageSize) in [-1, 1]."""

    def __init__(self, inputDim=100, outputChannels=1, imageSize=32):
        super().__init__()
        widths = GENERATOR_WIDTHS[imageSize]
        self.numBlocks = len(widths)
        previous = inputDim
        for i, width in enumerate(widths, start=1):
            # (N, previous, s, s) -> (N, width, 2s, 2s); 1x1 -> 4x4 first
            self.add_module(f"ct{i}", ConvTranspose2d(in_channels=previous, out_channels=width,
                kernel_size=4, stride=2, padding=0 if i == 1 else 1, bias=False))
            self.add_module(f"relu{i}", ReLU())
            self.add_module(f"batchNorm{i}", BatchNorm2d(width))
            previous = width
        # (N, widths[-1], imageSize / 2, ...) -> (N, outputChannels, imageSize, imageSize)
        self.add_module(f"ct{self.numBlocks + 1}", ConvTranspose2d(in_channels=previous,
            out_channels=outputChannels, kernel_size=4, stride=2, padding=1, bias=False))
        self.tanh = Tanh()

    def forward(self, x):
        for i in range(1, self.numBlocks + 1):
            x = getattr(self, f"ct{i}")(x)
            x = getattr(self, f"relu{i}")(x)
            x = getattr(self, f"batchNorm{i}")(x)
        x = getattr(self, f"ct{self.numBlocks + 1}")(x)
        return self.tanh(x)


class SizedDiscriminator(nn.Module):
    """The article's Discriminator at 32x32 or 64x64: CONV => LEAKYRELU
    blocks halving the size, FC => LEAKYRELU to 512, FC => SIGMOID to one
    probability (N, 1)."""

    def __init__(self, depth, alpha=0.2, imageSize=32):
        super().__init__()
        widths = DISCRIMINATOR_WIDTHS[imageSize]
        self.numBlocks = len(widths)
        previous, size = depth, imageSize
        for i, width in enumerate(widths, start=1):
            # (N, previous, size, size) -> (N, width, size / 2, size / 2)
            self.add_module(f"conv{i}", Conv2d(in_channels=previous, out_channels=width,
                kernel_size=4, stride=2, padding=1))
            self.add_module(f"leakyRelu{i}", LeakyReLU(alpha, inplace=True))
            previous, size = width, size // 2
        # (N, widths[-1] * size * size) -> (N, 512)
        self.fc1 = Linear(in_features=previous * size * size, out_features=HIDDEN)
        self.add_module(f"leakyRelu{self.numBlocks + 1}", LeakyReLU(alpha, inplace=True))
        # (N, 512) -> (N, 1), a probability in (0, 1)
        self.fc2 = Linear(in_features=HIDDEN, out_features=1)
        self.sigmoid = Sigmoid()

    def forward(self, x):
        for i in range(1, self.numBlocks + 1):
            x = getattr(self, f"conv{i}")(x)
            x = getattr(self, f"leakyRelu{i}")(x)
        x = flatten(x, 1)
        x = self.fc1(x)
        x = getattr(self, f"leakyRelu{self.numBlocks + 1}")(x)
        x = self.fc2(x)
        return self.sigmoid(x)


def model_classes(imageSize, numClasses=None):
    """(Generator class, Discriminator class) for `imageSize`, both built as
    the article builds its own: Generator(inputDim=..., outputChannels=...),
    Discriminator(depth=...). At 28: the article's classes themselves.
    numClasses (--conditional): the same told that many classes."""
    if imageSize != 28 and imageSize not in GENERATOR_WIDTHS:
        raise ValueError(f"image size {imageSize}: the models take {', '.join(map(str, IMAGE_SIZES))}")
    if numClasses:
        if imageSize == 28:
            return (partial(ConditionalArticleGenerator, numClasses=numClasses),
                    partial(ConditionalArticleDiscriminator, numClasses=numClasses))
        return (partial(ConditionalSizedGenerator, numClasses=numClasses, imageSize=imageSize),
                partial(ConditionalSizedDiscriminator, numClasses=numClasses,
                        imageSize=imageSize))
    if imageSize == 28:
        return Generator, Discriminator
    return (partial(SizedGenerator, imageSize=imageSize),
            partial(SizedDiscriminator, imageSize=imageSize))


def generator_geometry(state):
    """(inputDim, channels, imageSize) of a generator state_dict of any of
    the sizes, or None when it is none of them."""
    convs = sorted((k for k in state if k.startswith("ct") and k.endswith(".weight")
                    and k[2:-7].isdigit()), key=lambda k: int(k[2:-7]))
    if not convs or any(state[k].dim() != 4 for k in convs):
        return None
    inputDim, channels = state[convs[0]].shape[0], state[convs[-1]].shape[1]
    if len(convs) == 4:
        # the article's ct2 is kernel 3 (4x4 -> 7x7); at 32 it is kernel 4 (4x4 -> 8x8)
        return inputDim, channels, 28 if state["ct2.weight"].shape[-1] == 3 else 32
    if len(convs) == 5:
        return inputDim, channels, 64
    return None


def discriminator_geometry(state):
    """(depth, imageSize) of a discriminator state_dict, or None."""
    convs = [k for k in state if k.startswith("conv") and k.endswith(".weight")]
    fc1 = state.get("fc1.weight")
    if "conv1.weight" not in state or fc1 is None or fc1.dim() != 2:
        return None
    depth = state["conv1.weight"].shape[1]
    if len(convs) == 3:
        return depth, 64
    return depth, 28 if fc1.shape[1] == 64 * 7 * 7 else 32


def describe(imageSize, channels):
    """'grey 28x28', 'colour 64x64'."""
    return f"{'grey' if channels == 1 else 'colour'} {imageSize}x{imageSize}"


def discriminator_logits(disc, images, labels=None):
    """D's logits (N,), read with `watch_logits`, so the article's model is
    unchanged; with their graph. `disc` may be wrapped (--amp's autocast,
    --compile, DDP); `labels`: the classes a conditional D is told."""
    seen = []
    handle = watch_logits(disc, seen.append)
    try:
        told(disc, images, labels)
    finally:
        handle.remove()
    return seen[0].view(-1)


def watch_logits(disc, keep):
    """Hand D's logits to `keep` at each of its passes; returns the hook's
    handle. They are the input of its final Sigmoid (fc2's output, plus the
    projection of a conditional D), or fc2's output in a model without one.
    `disc` may be wrapped (--amp's Autocast, --compile, DDP)."""
    inner = disc
    while not hasattr(inner, "fc2"):
        inner = getattr(inner, "_orig_mod", None) or inner.module
    if isinstance(getattr(inner, "sigmoid", None), nn.Module):
        return inner.sigmoid.register_forward_pre_hook(lambda m, inputs: keep(inputs[0]))
    return inner.fc2.register_forward_hook(lambda m, inputs, output: keep(output))


# ------------------------------------------------------------------ --conditional

CLASS_COUNT = "numClasses"      # the generator's buffer: its state_dict says it is conditional


def told(model, x, labels):
    """`model` on `x`, told the classes `labels` (N,) when there are any
    (--conditional); without, the article's call, model(x)."""
    return model(x) if labels is None else model(x, labels)


class _ToldTheClass:
    """A generator whose input is the noise (N, inputDim, 1, 1) followed by
    a one-hot code of the class (N, K, 1, 1)."""

    def _remember(self, numClasses):
        self.register_buffer(CLASS_COUNT, torch.tensor(numClasses))
        # the same count as a Python int, which forward reads: int() of the
        # buffer would be a graph break under torch.compile (--compile)
        self.classCount = int(numClasses)
        self.register_load_state_dict_post_hook(_count_classes)

    @property
    def classes(self):
        return self.classCount

    def forward(self, noise, labels):
        """noise (N, inputDim, 1, 1); labels (N,) class numbers, or (N, K)
        codes (a walk from one class to another mixes two)."""
        code = labels if labels.dim() == 2 else one_hot(labels, self.classes)
        code = code.to(noise.dtype)[:, :, None, None]                   # (N, K, 1, 1)
        return super().forward(torch.cat((noise, code), 1))             # (N, inputDim + K, 1, 1)


def _count_classes(module, incompatible):
    """After load_state_dict: the int the loaded buffer says."""
    module.classCount = int(getattr(module, CLASS_COUNT))


class ConditionalArticleGenerator(_ToldTheClass, Generator):
    def __init__(self, inputDim=100, outputChannels=1, numClasses=10):
        super().__init__(inputDim=inputDim + numClasses, outputChannels=outputChannels)
        self._remember(numClasses)


class ConditionalSizedGenerator(_ToldTheClass, SizedGenerator):
    def __init__(self, inputDim=100, outputChannels=1, numClasses=10, imageSize=32):
        super().__init__(inputDim=inputDim + numClasses, outputChannels=outputChannels,
                         imageSize=imageSize)
        self._remember(numClasses)


class _Projection:
    """A discriminator whose logit gains <embed(label), features>: the
    projection of the class onto D's features after fc1 (N, 512)."""

    def _add_projection(self, numClasses):
        # zero at the start: D begins as the article's, and learns what
        # each class adds (docs/conditional.md)
        self.embed = Embedding(numClasses, self.fc2.in_features)
        nn.init.zeros_(self.embed.weight)

    def features(self, x):
        """Every layer before fc2, in the article's order: (N, C, S, S) ->
        (N, 512), flattened before the first fully connected layer."""
        for name, layer in self.named_children():
            if name == "fc2":
                return x
            if isinstance(layer, Linear) and x.dim() > 2:
                x = flatten(x, 1)                  # (N, 64, 7, 7) -> (N, 3136) at 28
            x = layer(x)
        raise AssertionError("a discriminator without fc2")

    def forward(self, x, labels):
        h = self.features(x)                                           # (N, 512)
        logit = self.fc2(h) + (self.embed(labels) * h).sum(1, keepdim=True)   # (N, 1)
        return self.sigmoid(logit)


class ConditionalArticleDiscriminator(_Projection, Discriminator):
    def __init__(self, depth=1, alpha=0.2, numClasses=10):
        super().__init__(depth=depth, alpha=alpha)
        self._add_projection(numClasses)


class ConditionalSizedDiscriminator(_Projection, SizedDiscriminator):
    def __init__(self, depth=1, alpha=0.2, numClasses=10, imageSize=32):
        super().__init__(depth=depth, alpha=alpha, imageSize=imageSize)
        self._add_projection(numClasses)


def classes_of_generator(state):
    """The class count a generator's state_dict was told (None: an
    unconditional generator)."""
    value = state.get(CLASS_COUNT)
    return None if value is None else int(value)


def class_count(gen):
    """The classes a generator is told (None: an unconditional one)."""
    value = getattr(gen, CLASS_COUNT, None)
    return None if value is None else int(value)


def noise_dim(gen):
    """The length of the noise a generator draws from (100 for the
    article's), without the class code of a conditional one."""
    return gen.ct1.in_channels - (class_count(gen) or 0)
