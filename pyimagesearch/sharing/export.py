"""generate.py --export DIR: the generator as a folder anyone can load,
in the Hugging Face Hub's layout (exported.py names the files):

    model.safetensors   the state_dict (the article's key names)
    config.json         the constructor's arguments, size and channels, the
                        data set and its class names, the seed, the recipe,
                        the scores when the run was scored
    generator.onnx      the same network for ONNX Runtime, checked against
                        PyTorch on a batch (largest difference <= ONNX_TOLERANCE)
    README.md           the model card (card.py)

The folder is built beside DIR under a temporary name, loaded back through
huggingface_hub's from_pretrained and ONNX Runtime, and only then renamed
to DIR: it appears whole or not at all.
"""

import contextlib
import io
import os
import shutil
import tempfile
import warnings

import torch

from .. import files
from ..checkpoint import Checkpoint
from ..data.cifar import CLASS_NAMES as CIFAR10
from ..data.sources import CLASS_NAMES
from ..exported import CARD, CONFIG, FORMAT, ONNX, WEIGHTS, Exported, ExportError
from .card import model_card

ONNX_TOLERANCE = 1e-5         # largest |ONNX - PyTorch| on a batch, pixels in [-1, 1]
CHECK_BATCH = 16
SCORE_KEYS = ("epoch", "fld", "real_fld", "inception_score", "precision", "recall", "density",
              "coverage", "classes_covered", "num_classes", "num_samples")
# arguments that name this machine's paths or one invocation: not in config.json
LOCAL_ARGUMENTS = ("output", "data_dir", "resume", "overwrite", "no_progress", "stop_after",
                   "tensorboard", "device")


def folder_problem(folder):
    """Why `folder` cannot become the export (exists and holds files), or None."""
    if os.path.isdir(folder) and os.listdir(folder):
        return (f"{folder} exists and holds other files; choose a new folder (or an empty "
                "one), nothing is written over")
    return None


def describe_export(saved, path, gen, description):
    """config.json for the generator `gen` read from `path` (whose content
    `saved` is: a checkpoint.pt's dict, a state_dict, or an Exported);
    description: which of its generators (checkpoint.generator_state's words)."""
    config = {"format": FORMAT, "format_version": 1, "inputDim": gen.ct1.in_channels,
              "outputChannels": gen.channels, "imageSize": gen.imageSize,
              "channels": gen.channels}
    if isinstance(saved, Exported):
        return {**config, **{k: v for k, v in saved.config.items() if k not in config}}
    if not (isinstance(saved, dict) and "generator" in saved):
        return {**config, "weights": f"a generator state_dict ({os.path.basename(path)})",
                "dataset": None, "class_names": None, "seed": None, "scores": None,
                "training_arguments": None}
    checkpoint = Checkpoint.from_dict(saved, path)
    args, run = checkpoint.args, checkpoint.run
    ema = description.startswith("EMA")
    config["weights"] = f"{'the EMA' if ema else 'the trained'} generator after epoch {checkpoint.epoch}"
    scores = None
    if run.get("metrics"):
        last = run["metrics"][-1]
        last = last.get("ema", last) if ema else last
        scores = {k: last.get(k, run["metrics"][-1].get(k)) for k in SCORE_KEYS
                  if last.get(k, run["metrics"][-1].get(k)) is not None}
    classes = (run["metrics"][-1].get("class_names") if run.get("metrics") else None) \
        or (list(CLASS_NAMES[args["dataset"]]) if args.get("dataset") in CLASS_NAMES else None) \
        or (list(CIFAR10) if args.get("dataset") == "cifar10" else None)
    return {**config, "dataset": args.get("dataset"), "class_names": classes,
            "data_source": run.get("data_source"), "num_train_images": run.get("num_train_images"),
            "seed": args.get("seed"), "epochs_trained": checkpoint.epoch,
            "recipe": run.get("recipe"), "scores": scores,
            "training_arguments": {k: v for k, v in args.items() if k not in LOCAL_ARGUMENTS},
            "library_versions": run.get("versions")}


def onnx_bytes(gen, inputDim):
    """The generator as an ONNX model (torch.onnx's exporter, batch size
    dynamic): input "noise" (N, inputDim, 1, 1), output "images"."""
    example = torch.randn(2, inputDim, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(gen, (example,), input_names=["noise"],
                                    output_names=["images"], dynamo=True, verbose=False,
                                    dynamic_shapes=({0: torch.export.Dim("batch")},))
    return program.model_proto.SerializeToString()


def check_onnx(model, gen, inputDim):
    """The largest |ONNX Runtime - PyTorch| over a batch of CHECK_BATCH;
    ExportError above ONNX_TOLERANCE."""
    import onnxruntime      # import here: only an export runs it
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    noise = torch.randn(CHECK_BATCH, inputDim, 1, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = gen(noise).numpy()
    got = session.run(["images"], {"noise": noise.numpy()})[0]
    difference = float(abs(got - expected).max())
    if got.shape != expected.shape or difference > ONNX_TOLERANCE:
        raise ExportError(f"the ONNX export draws other images than PyTorch (largest "
                          f"difference {difference:.2e}, shape {got.shape}); nothing written")
    return difference


def check_hub_load(folder, gen, inputDim):
    """Load `folder` as from_pretrained does and compare with `gen`."""
    from ..hub import DCGANGenerator    # imports huggingface_hub: only an export checks with it
    with contextlib.redirect_stdout(io.StringIO()):   # its print "Loading weights from ..."
        loaded = DCGANGenerator.from_pretrained(folder).eval()
    noise = torch.randn(CHECK_BATCH, inputDim, 1, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        if not torch.equal(loaded(noise), gen(noise)):
            raise ExportError("the folder loaded by from_pretrained draws other images than the "
                              "checkpoint; nothing written")


def export(folder, gen, config):
    """Write the export of `gen` (eval mode, on the CPU) described by
    `config` into `folder` (absent or empty), whole or not at all. Returns
    {"onnx_difference": ..., "bytes": {file: size}}."""
    from safetensors.torch import save        # import here: only an export writes safetensors
    gen = gen.cpu().eval()
    inputDim = config["inputDim"]
    parent = os.path.dirname(os.path.abspath(folder))
    partial = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(folder))}.partial-",
                               dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o777 & ~umask)          # a folder as mkdir makes it, not mkdtemp's 700
        state = {k: v.detach().contiguous() for k, v in gen.state_dict().items()}
        files.write_bytes(os.path.join(partial, WEIGHTS), save(state, metadata={"format": "pt"}))
        files.write_json(os.path.join(partial, CONFIG), config)
        model = onnx_bytes(gen, inputDim)
        difference = check_onnx(model, gen, inputDim)
        files.write_bytes(os.path.join(partial, ONNX), model)
        files.write_bytes(os.path.join(partial, CARD), model_card(config, os.path.basename(os.path.abspath(folder))).encode())
        check_hub_load(partial, gen, inputDim)
        sizes = {name: os.path.getsize(os.path.join(partial, name)) for name in sorted(os.listdir(partial))}
        if os.path.isdir(folder):
            os.rmdir(folder)          # empty (checked): the rename takes its place
        os.rename(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {"onnx_difference": difference, "bytes": sizes}
