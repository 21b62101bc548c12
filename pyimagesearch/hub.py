"""The generator as a Hugging Face Hub model: `DCGANGenerator`, the
article's Generator with huggingface_hub's PyTorchModelHubMixin, which
loads a folder written by `generate.py --export DIR` (or a Hub repository
with the same files) in three lines:

    from pyimagesearch.hub import DCGANGenerator
    gen = DCGANGenerator.from_pretrained("export").eval()
    images = gen(torch.randn(16, gen.inputDim, 1, 1))     # (16, C, S, S) in [-1, 1]

A conditional generator (dcgan_mnist.py --conditional; config.json's
numClasses) is told the class of each image:

    images = gen(torch.randn(16, gen.inputDim, 1, 1), torch.full((16,), 7))   # sixteen 7s

The truncation trick (fewer odd samples, less variety): noise whose values
all lie within [-T, T], T the folder's recommended one (config.json's
"truncation") unless given:

    images = gen(gen.noise(16), torch.full((16,), 7))           # at the recommended T
    images = gen(gen.noise(16, truncation=1.0), torch.full((16,), 7))

The folder's layout and how the scripts read it back: exported.py.
"""

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn
from torch.nn.functional import one_hot

from .errors import shorten
from .exported import ExportError, config_problem
from .models import CLASS_COUNT, class_count, model_classes
from .noise import truncate_

ARTICLE = "https://pyimagesearch.com/2021/10/25/training-a-dcgan-in-pytorch/"


class DCGANGenerator(nn.Module, PyTorchModelHubMixin, library_name="pytorch",
                     docs_url=ARTICLE, pipeline_tag="unconditional-image-generation",
                     tags=["dcgan", "gan", "pyimagesearch"]):
    """The article's Generator (at 28x28 its own layers; at 32 and 64
    models.py's), with huggingface_hub's save_pretrained/from_pretrained.
    Its layers are those of the class models.model_classes gives, under
    the same attribute names, so its state_dict is the article's: the
    article's `Generator` loads model.safetensors as it is. `about`: the
    rest of config.json (data set, class names, seed, scores), kept.

    numClasses (--conditional): the generator is told the class of each
    image, gen(noise, labels), as models.py's conditional generators: its
    first layer takes inputDim + numClasses values, and the state_dict holds
    the class count as the int64 buffer `numClasses`, as theirs."""

    def __init__(self, inputDim=100, outputChannels=1, imageSize=28, numClasses=None, **about):
        super().__init__()
        # config.json's fields, as read_folder checks them (from_pretrained reads it alone)
        problem = config_problem({"inputDim": inputDim, "outputChannels": outputChannels,
                                  "imageSize": imageSize, "numClasses": numClasses, **about})
        if problem:
            raise ExportError(f"not the config.json of generate.py --export ({problem})")
        Generator, _ = model_classes(imageSize)
        # a conditional generator is the article's fed the noise, then the class code
        built = Generator(inputDim=inputDim + (numClasses or 0), outputChannels=outputChannels)
        for name, layer in built.named_children():     # ct1, relu1, batchNorm1, ...
            self.add_module(name, layer)
        self.numBlocks = getattr(built, "numBlocks", None)      # what SizedGenerator reads
        self._draw = type(built).forward
        self.inputDim, self.imageSize, self.channels = inputDim, imageSize, outputChannels
        if numClasses is not None:                     # the buffer models.py's generators keep
            self.register_buffer(CLASS_COUNT, torch.tensor(numClasses))
        self.about = about

    @property
    def truncation(self):
        """The truncation T the folder recommends (config.json), or None."""
        return self.about.get("truncation")

    def noise(self, num, truncation="recommended", generator=None):
        """`num` noise vectors (num, inputDim, 1, 1) for this generator:
        standard normal, truncated to [-T, T] (every value beyond drawn
        again) at `truncation`: the folder's recommended T by default (none
        when it recommends none), None for untruncated, or a T from 0.1 to 10.
        generator: a torch.Generator for reproducible noise."""
        T = self.truncation if truncation == "recommended" else truncation
        z = torch.randn(num, self.inputDim, 1, 1, generator=generator)
        return z if T is None else truncate_(z, T, generator)

    def forward(self, x, labels=None):
        # (N, inputDim, 1, 1) noise -> (N, outputChannels, imageSize, imageSize) in [-1, 1]
        numClasses = class_count(self)
        if (labels is None) != (numClasses is None):
            raise ValueError("this generator draws the class it is told: gen(noise, labels), "
                             "labels (N,) class numbers" if labels is None else
                             "this generator is not conditional: gen(noise), without labels")
        if labels is not None:
            # labels (N,) class numbers, or (N, K) codes; as models._ToldTheClass
            code = class_code(x, labels, numClasses)
            x = torch.cat((x, code.to(x.dtype)[:, :, None, None]), 1)    # (N, inputDim + K, 1, 1)
        return self._draw(self, x)

    def load_state_dict(self, state_dict, *args, **kwargs):
        """nn.Module's, refusing weights told another class count than
        config.json's numClasses (the buffer numClasses, which would be
        copied in silence)."""
        told, said = state_dict.get(CLASS_COUNT), class_count(self)
        if told is not None and said is not None \
                and (told.numel() != 1 or int(told) != said):
            shown = int(told) if told.numel() == 1 else f"{told.numel():,} values"
            raise ExportError(f"the weights do not fit config.json: their {CLASS_COUNT!r} holds "
                              f"{shown}, config.json's numClasses is {said}; export it again")
        return super().load_state_dict(state_dict, *args, **kwargs)


def class_code(noise, labels, numClasses):
    """The class code (N, K) of a conditional generator's `labels` for
    `noise` (N, inputDim, 1, 1): labels a torch.long tensor (N,) of class
    numbers, or a floating point one (N, K) of codes (a walk from one class
    to another mixes two). Anything else is a ValueError (TypeError for no
    tensor at all) that says what is expected, not torch's words about
    channels or indices."""
    n = noise.shape[0] if isinstance(noise, torch.Tensor) and noise.dim() else "N"
    expected = (f"labels must be a torch.long tensor of shape ({n},): one class number from 0 "
                f"to {numClasses - 1} per noise vector, e.g. torch.full(({n},), "
                f"{min(7, numClasses - 1)}) (or a float tensor ({n}, {numClasses}) of class codes)")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{expected}; got {type(labels).__name__} {shorten(repr(labels), 40)}")
    if labels.dtype == torch.long and tuple(labels.shape) == (n,):
        return one_hot(labels, numClasses)                  # (N,) -> (N, K)
    if labels.is_floating_point() and tuple(labels.shape) == (n, numClasses):
        return labels
    raise ValueError(f"{expected}; got a tensor of {str(labels.dtype).removeprefix('torch.')}, "
                     f"shape {tuple(labels.shape)}")
