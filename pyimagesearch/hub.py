"""The generator as a Hugging Face Hub model: `DCGANGenerator`, the
article's Generator with huggingface_hub's PyTorchModelHubMixin, which
loads a folder written by `generate.py --export DIR` (or a Hub repository
with the same files) in three lines:

    from pyimagesearch.hub import DCGANGenerator
    gen = DCGANGenerator.from_pretrained("export").eval()
    images = gen(torch.randn(16, gen.inputDim, 1, 1))     # (16, C, S, S) in [-1, 1]

The folder's layout and how the scripts read it back: exported.py.
"""

from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .exported import ExportError, config_problem
from .models import model_classes

ARTICLE = "https://pyimagesearch.com/2021/10/25/training-a-dcgan-in-pytorch/"


class DCGANGenerator(nn.Module, PyTorchModelHubMixin, library_name="pytorch",
                     docs_url=ARTICLE, pipeline_tag="unconditional-image-generation",
                     tags=["dcgan", "gan", "pyimagesearch"]):
    """The article's Generator (at 28x28 its own layers; at 32 and 64
    models.py's), with huggingface_hub's save_pretrained/from_pretrained.
    Its layers are those of the class models.model_classes gives, under
    the same attribute names, so its state_dict is the article's: the
    article's `Generator` loads model.safetensors as it is. `about`: the
    rest of config.json (data set, class names, seed, scores), kept."""

    def __init__(self, inputDim=100, outputChannels=1, imageSize=28, **about):
        super().__init__()
        # config.json's fields, as read_folder checks them (from_pretrained reads it alone)
        problem = config_problem({"inputDim": inputDim, "outputChannels": outputChannels,
                                  "imageSize": imageSize, **about})
        if problem:
            raise ExportError(f"not the config.json of generate.py --export ({problem})")
        Generator, _ = model_classes(imageSize)
        built = Generator(inputDim=inputDim, outputChannels=outputChannels)
        for name, layer in built.named_children():     # ct1, relu1, batchNorm1, ...
            self.add_module(name, layer)
        self.numBlocks = getattr(built, "numBlocks", None)      # what SizedGenerator reads
        self._draw = type(built).forward
        self.inputDim, self.imageSize, self.channels = inputDim, imageSize, outputChannels
        self.about = about

    def forward(self, x):
        # (N, inputDim, 1, 1) noise -> (N, outputChannels, imageSize, imageSize) in [-1, 1]
        return self._draw(self, x)
