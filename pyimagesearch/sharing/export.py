"""generate.py --export DIR: the generator as a folder anyone can load,
in the Hugging Face Hub's layout (exported.py names the files):

    model.safetensors   the state_dict (the article's key names)
    config.json         the constructor's arguments, size and channels, the
                        data set and its class names, the seed, the recipe,
                        the scores when the run was scored
    generator.onnx      the same network for ONNX Runtime, checked against
                        PyTorch on a batch (largest difference <= ONNX_TOLERANCE);
                        a conditional generator's takes the int64 labels (N,)
                        besides the noise
    README.md           the model card (card.py)

The folder is built beside DIR under a temporary name,
`.DIR.partial-PID-XXXXXXXX`, loaded back through huggingface_hub's
from_pretrained and ONNX Runtime, and only then renamed to DIR: it appears
whole or not at all. Ctrl-C and SIGTERM remove the partial folder and end in
one line (130, 143); one a SIGKILL left is removed by the next export to DIR
once its process is gone.

Nothing names this machine: the data are named by kind, folder name and
SHA-256 (public_source), never by a path, and the ONNX file keeps no
stack traces (they name the source files' paths).
"""

import contextlib
import errno
import io
import os
import re
import shutil
import signal
import tempfile
import threading
import warnings

import torch

from .. import files
from ..checkpoint import Checkpoint
from ..data.cifar import CLASS_NAMES as CIFAR10
from ..data.sources import CLASS_NAMES, EMBEDDED_SOURCE, LICENCES
from ..errors import printable, raise_terminated
from ..exported import CARD, CONFIG, FORMAT, ONNX, WEIGHTS, Exported, ExportError
from ..interrupts import interrupts_deferred
from ..models import class_count, noise_dim
from .card import model_card

ONNX_TOLERANCE = 1e-5         # largest |ONNX - PyTorch| on a batch, pixels in [-1, 1]
CHECK_BATCH = 16
SCORE_KEYS = ("epoch", "fld", "real_fld", "inception_score", "precision", "recall", "density",
              "coverage", "classes_covered", "num_classes", "num_samples")
# arguments that name this machine's paths or one invocation: not in config.json
LOCAL_ARGUMENTS = ("output", "data_dir", "resume", "overwrite", "no_progress", "stop_after",
                   "tensorboard", "device")


# data sources (data/sources.py, cifar.py, folder.py) whose words end in a path:
# the kind and the folder's name are kept
PATH_SOURCES = re.compile(r"(?P<kind>IDX files in|torchvision download into|"
                          r"CIFAR-10 batch files in|image folder) (?P<path>.+?)"
                          r"(?P<rest> \([\d,]+ images, [^()]*\))?")
PATHLESS_SOURCES = (EMBEDDED_SOURCE, re.compile(r"torchvision FakeData \([\d,]+ random images\)"))
PARTIAL_NAME = 100            # characters of DIR's name in the partial folder's


def public_source(source):
    """The run record's data_source without the path it names: "IDX files in
    /home/me/data" -> "IDX files in a folder named 'data'"; a source of
    another form that names a path becomes None (not recorded)."""
    if not isinstance(source, str):
        return None
    if any(p == source if isinstance(p, str) else p.fullmatch(source)
           for p in PATHLESS_SOURCES):
        return source
    match = PATH_SOURCES.fullmatch(source)
    if match is not None and match["path"].startswith("a folder named "):
        return source                       # public already (an export exported again)
    if match is None:
        return None if ("/" in source or "\\" in source) else source
    name = os.path.basename(os.path.normpath(match["path"].replace("\\", "/")))
    where = "an image folder" if match["kind"] == "image folder" else f"{match['kind']} a folder"
    return f"{where} named {name!r}{match['rest'] or ''}"


def folder_problem(folder):
    """Why `folder` cannot become the export (a link, or a folder that holds
    files), or None."""
    if os.path.islink(folder):
        return (f"{folder} is a symbolic link; name a new folder (the export is not written "
                "through links)")
    here, there = os.path.abspath(os.getcwd()), os.path.abspath(folder)
    if here == there or here.startswith(there.rstrip(os.sep) + os.sep):
        return (f"{folder} is the current folder or one above it, which cannot be replaced "
                "by the export; name a new folder")
    if os.path.isdir(folder) and os.listdir(folder):
        return (f"{folder} exists and holds other files; choose a new folder (or an empty "
                "one), nothing is written over")
    return None


def describe_export(saved, path, gen, description, truncation=None):
    """config.json for the generator `gen` read from `path` (whose content
    `saved` is: a checkpoint.pt's dict, a state_dict, or an Exported);
    description: which of its generators (checkpoint.generator_state's words);
    truncation: the T the folder recommends (None: the one an exported
    folder recorded, else none)."""
    config = {"format": FORMAT, "format_version": 1, "inputDim": noise_dim(gen),
              "outputChannels": gen.channels, "imageSize": gen.imageSize,
              "channels": gen.channels}
    if truncation is not None:
        config["truncation"] = truncation
    if class_count(gen) is not None:        # --conditional: told one of numClasses classes
        config["numClasses"] = class_count(gen)
    if isinstance(saved, Exported):      # an export exported again (one of before the paths went)
        kept = {k: v for k, v in saved.config.items() if k not in config}
        return {**config, **kept, "data_source": public_source(kept.get("data_source"))}
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
        scores.update(conditioning_scores(last.get("conditioning")))
    classes = run.get("class_names") \
        or (run["metrics"][-1].get("class_names") if run.get("metrics") else None) \
        or (list(CLASS_NAMES[args["dataset"]]) if args.get("dataset") in CLASS_NAMES else None) \
        or (list(CIFAR10) if args.get("dataset") == "cifar10" else None)
    licence, licenceWords = LICENCES.get(args.get("dataset"), (None, None))
    if classes is not None and config.get("numClasses") not in (None, len(classes)):
        classes = None                  # names of other classes than those it was told
    classes = classes and [printable(c) for c in classes]    # as the schema takes them
    return {**config, "dataset": args.get("dataset"), "class_names": classes,
            "data_source": public_source(run.get("data_source")),
            "data_sha256": run.get("data_sha256"), "num_train_images": run.get("num_train_images"),
            "seed": args.get("seed"), "epochs_trained": checkpoint.epoch,
            "recipe": run.get("recipe"), "scores": scores,
            "training_arguments": {k: v for k, v in args.items() if k not in LOCAL_ARGUMENTS},
            "library_versions": run.get("versions"),
            "command": run.get("command"), "trained_on": run.get("device"),
            "training_seconds": (round(sum(run["seconds_per_epoch"]), 1)
                                 if run.get("seconds_per_epoch") else None),
            "license": licence, "data_license": licenceWords}


def conditioning_scores(numbers):
    """config.json's scores of a conditional generator from the evaluator's
    conditioning numbers (metrics.Scorer.conditioning): how often it draws
    the class asked for, overall and for the worst class."""
    if not numbers:
        return {}
    return {"as_asked": numbers["accuracy"], "worst_class": printable(numbers["worst_class"]),
            "worst_class_as_asked": numbers["worst_accuracy"]}


def check_inputs(gen, inputDim, seed):
    """The inputs the checks draw a batch of CHECK_BATCH from: the noise,
    and for a conditional generator the labels (N,), every class in turn."""
    noise = torch.randn(CHECK_BATCH, inputDim, 1, 1, generator=torch.Generator().manual_seed(seed))
    numClasses = class_count(gen)
    return (noise,) if numClasses is None else (noise, torch.arange(CHECK_BATCH) % numClasses)


def onnx_bytes(gen, inputDim):
    """The generator as an ONNX model (torch.onnx's exporter, batch size
    dynamic): input "noise" (N, inputDim, 1, 1) (and, for a conditional
    generator, "labels" (N,) int64 class numbers), output "images"."""
    example = check_inputs(gen, inputDim, 0)
    names = ["noise", "labels"][:len(example)]
    batch = torch.export.Dim("batch")
    if class_count(gen) is not None:
        gen = LabelsAsCode(gen, class_count(gen))
    with warnings.catch_warnings(), signals_kept():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(gen, example, input_names=names,
                                    output_names=["images"], dynamo=True, verbose=False,
                                    dynamic_shapes=tuple({0: batch} for _ in example))
    model = program.model_proto
    for node in _nodes(model):          # its stack traces name this machine's files
        kept = [p for p in node.metadata_props if p.key != STACK_TRACE]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
        node.doc_string = ""
    return model.SerializeToString()


STACK_TRACE = "pkg.torch.onnx.stack_trace"


class LabelsAsCode(torch.nn.Module):
    """A conditional generator taking the labels (N,) as ONNX has them: the
    one-hot code made by a comparison with the classes 0..K-1, K fixed here
    (one_hot and the class count buffer are read as data, which the
    exporter cannot trace); the same code, so the same images. A label out
    of range is an all-zero code in ONNX (PyTorch's one_hot raises)."""

    def __init__(self, gen, numClasses):
        super().__init__()
        self.gen, self.numClasses = gen, numClasses

    def forward(self, noise, labels):
        code = labels[:, None] == torch.arange(self.numClasses)        # (N, K)
        return self.gen(noise, code.to(noise.dtype))


def _nodes(model):
    """Every node of an ONNX model: its graph's, its functions', and those of
    the subgraphs they hold."""
    graphs = [model.graph]
    nodes = [*(n for f in model.functions for n in f.node)]
    while graphs:
        graph = graphs.pop()
        nodes.extend(graph.node)
        for node in graph.node:
            for attribute in node.attribute:
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)
    return nodes


@contextlib.contextmanager
def signals_kept():
    """Ctrl-C and SIGTERM raised where they come, as always, and raised again
    when the block ends: torch.onnx.export catches what its tracing raises
    (KeyboardInterrupt too), then tries another way or wraps it in its own
    error, and the signal would be lost."""
    came, previous = [], {}
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum, frame):
        came.append(signum)
        previous[signum](signum, frame)

    for number in (signal.SIGINT, signal.SIGTERM):
        if callable(signal.getsignal(number)):
            previous[number] = signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if came:
            previous[came[0]](came[0], None)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM ends the export as Ctrl-C does (errors.Terminated: the partial
    folder removed, one line, exit status 143), unless it is ignored."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def check_onnx(model, gen, inputDim):
    """The largest |ONNX Runtime - PyTorch| over a batch of CHECK_BATCH;
    ExportError above ONNX_TOLERANCE."""
    import onnxruntime      # import here: only an export runs it
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    inputs = check_inputs(gen, inputDim, 0)
    with torch.no_grad():
        expected = gen(*inputs).numpy()
    got = session.run(["images"], {name: x.numpy() for name, x in zip(("noise", "labels"),
                                                                      inputs)})[0]
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
    inputs = check_inputs(gen, inputDim, 1)
    with torch.no_grad():
        if not torch.equal(loaded(*inputs), gen(*inputs)):
            raise ExportError("the folder loaded by from_pretrained draws other images than the "
                              "checkpoint; nothing written")


def partial_prefix(folder):
    """The start of the name of `folder`'s partial folders (this process's)."""
    return f".{os.path.basename(os.path.abspath(folder))[:PARTIAL_NAME]}.partial-"


def remove_stale_partials(folder):
    """Delete the partial folders of exports to `folder` whose process is
    gone (a SIGKILL, a power cut); a live process's is its own. Returns
    their names."""
    parent = os.path.dirname(os.path.abspath(folder))
    ours = re.compile(re.escape(partial_prefix(folder)) + r"(?P<pid>\d+)-[a-z0-9_]{8}")
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        match = ours.fullmatch(entry)
        path = os.path.join(parent, entry)
        if match is None or os.path.islink(path) or not os.path.isdir(path) \
                or _alive(int(match["pid"])):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(entry)
    return sorted(removed)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0                    # another user's, or no PID at all
    return True


def export(folder, gen, config):
    """Write the export of `gen` (eval mode, on the CPU) described by
    `config` into `folder` (absent or empty), whole or not at all. Returns
    {"onnx_difference": ..., "bytes": {file: size}}."""
    with sigterm_as_interrupt():
        return _export(folder, gen, config)


def _export(folder, gen, config):
    from safetensors.torch import save        # import here: only an export writes safetensors
    gen = gen.cpu().eval()
    inputDim = config["inputDim"]
    parent = os.path.dirname(os.path.abspath(folder))
    remove_stale_partials(folder)
    try:
        partial = tempfile.mkdtemp(prefix=f"{partial_prefix(folder)}{os.getpid()}-", dir=parent)
    except OSError as e:
        raise files.WriteError(f"cannot write {folder}: {e.strerror or e}") from None
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
        written = {name: files.sha256_of(os.path.join(partial, name)) for name in (WEIGHTS, CONFIG, ONNX)}
        files.write_bytes(os.path.join(partial, CARD),
                          model_card(config, card_name(folder), written).encode())
        check_hub_load(partial, gen, inputDim)
        sizes = {name: os.path.getsize(os.path.join(partial, name)) for name in sorted(os.listdir(partial))}
        with interrupts_deferred():
            _rename(partial, folder)
    except BaseException:
        with interrupts_deferred():          # a second signal does not stop the cleaning
            shutil.rmtree(partial, ignore_errors=True)
        raise
    return {"onnx_difference": difference, "bytes": sizes}


def card_name(folder):
    """How the card's snippets name the folder: as given when it is a
    relative path below the current folder (pretrained/mnist-conditional,
    loadable from where it was exported), else its name alone (no path of
    this machine)."""
    given = os.path.normpath(folder).replace(os.sep, "/")
    if os.path.isabs(folder) or given.startswith(".."):
        return os.path.basename(os.path.abspath(folder))
    return given


def _rename(partial, folder):
    """`partial` renamed to `folder`, which is absent or an empty folder
    (POSIX's rename takes an empty folder's place at once); ExportError when
    something else took the name meanwhile (another export to it)."""
    try:
        os.rename(partial, folder)
        return
    except OSError as e:
        error = e
    if os.path.isdir(folder) and not os.path.islink(folder) and not os.listdir(folder):
        try:                       # Windows: rename does not replace a folder
            os.rmdir(folder)
            os.rename(partial, folder)
            return
        except OSError as e:
            error = e
    if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
        raise ExportError(f"{folder}: appeared while the export was written (another export "
                          "to it?) and is not empty or not a folder; nothing written over, "
                          "nothing exported") from None
    raise files.WriteError(f"cannot write {folder}: {error.strerror or error}") from None
