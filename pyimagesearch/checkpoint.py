"""Files that must never be left half-written: run.json, weights, history,
checkpoints; and reading them back.

Everything is written to a temporary file in the same folder and then
renamed over the target, so a crash or a kill leaves the old file or the new
one, never a torn one.
"""

import csv
import io
import json
import os
import tempfile

import torch

CHECKPOINT = "checkpoint.pt"
GENERATOR = "generator.pth"
GENERATOR_EMA = "generator_ema.pth"
RUN_JSON = "run.json"
HISTORY = "history.csv"
LOSSES_PLOT = "losses.png"
METRICS = "metrics.json"

# every file a training run writes into its output folder
RUN_FILES = (CHECKPOINT, GENERATOR, GENERATOR_EMA, RUN_JSON, HISTORY,
             LOSSES_PLOT, METRICS, "output.gif")
RUN_PATTERNS = ("epoch_*.png",)

# the columns of history.csv, one row per batch; the quality metrics
# (--eval-every) fill the last row of an evaluated epoch and are blank (NaN
# in the history tensor) elsewhere
HISTORY_COLUMNS = ("epoch", "step", "loss_g", "loss_d", "d_x", "d_g_z",
                   "fld", "inception_score", "coverage",
                   "fld_ema", "inception_score_ema", "coverage_ema")
BATCH_COLUMNS = 4          # loss_g, loss_d, d_x, d_g_z: what a batch yields
METRIC_COLUMNS = HISTORY_COLUMNS[2 + BATCH_COLUMNS:]


class CheckpointError(Exception):
    """A checkpoint or weights file that cannot be used; the message says why."""


def _atomic(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path),
                               suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the usual mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    """Write `obj` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    _atomic(path, lambda f: f.write(text.encode()))


def save(obj, path):
    """torch.save, atomically."""
    _atomic(path, lambda f: torch.save(obj, f))


def write_history(path, history):
    """history.csv from the (steps, len(HISTORY_COLUMNS)) history tensor,
    atomically: one row per batch."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for epoch, step, *values in history.tolist():
        writer.writerow([int(epoch), int(step)] +
                        ["" if v != v else f"{v:.6f}" for v in values])   # NaN -> blank
    _atomic(path, lambda f: f.write(text.getvalue().encode()))


def history_columns(history):
    """The (steps, columns) history tensor as a dict of columns (lists)."""
    return {column: history[:, i].tolist() for i, column in enumerate(HISTORY_COLUMNS)}


def read_history(path):
    """history.csv as a dict of columns (lists of floats)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {column: [float(row[column] or "nan") for row in rows] for column in HISTORY_COLUMNS}


# ------------------------------------------------------------ random streams

def capture_rng(noiseGen, shuffleGen):
    """Every random state the training loop draws from."""
    state = {"torch": torch.get_rng_state(), "noise": noiseGen.get_state(),
             "shuffle": shuffleGen.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state, noiseGen, shuffleGen):
    torch.set_rng_state(state["torch"])
    noiseGen.set_state(state["noise"])
    shuffleGen.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------ reading

def load(path):
    """torch.load of a file we or the article wrote, without running any
    pickled code (weights_only). Raises CheckpointError in words."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive ("PK\x03\x04"); PyTorch < 1.6 a pickle
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise CheckpointError(f"{path}: not a PyTorch file (torch.save writes a zip archive)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds here
        if "Weights only load failed" in str(e):
            reason = ("it holds pickled Python objects besides tensors, which "
                      "are not loaded, for safety")
        else:
            reason = " ".join(str(e).split()).split(". ")[0][:160] or type(e).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch file ({reason})") from None


def load_checkpoint(path):
    """A checkpoint.pt written by dcgan_mnist.py, checked for its keys."""
    checkpoint = load(path)
    needed = ("generator", "discriminator", "genOpt", "discOpt", "epoch",
              "benchmarkNoise", "history", "args", "rng")
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in needed):
        raise CheckpointError(f"{path}: not a training checkpoint of dcgan_mnist.py "
                              "(a generator.pth holds weights only and cannot be resumed)")
    return checkpoint


def generator_state(path, which="auto", loaded=None):
    """The generator's state_dict from any of the files we know:
    a checkpoint.pt, a generator.pth, or a state_dict saved by the article's
    own code (`torch.save(gen.state_dict(), ...)`).

    which: "auto" (the EMA weights when the file has them, else the trained
    ones), "ema" or "live". loaded: the file's content when the caller
    already read it with load(path). Returns (state_dict, description).
    """
    obj = load(path) if loaded is None else loaded
    if isinstance(obj, dict) and "generator" in obj:        # checkpoint.pt
        hasEma = obj.get("ema") is not None
        if which == "ema" and not hasEma:
            raise CheckpointError(f"{path}: has no EMA weights (the run did not use --ema)")
        if which == "ema" or (which == "auto" and hasEma):
            return obj["ema"]["model"], f"EMA generator of {path} (epoch {obj['epoch']})"
        return obj["generator"], f"generator of {path} (epoch {obj['epoch']})"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        # a generator.pth or generator_ema.pth: the weights it holds
        return obj, f"generator weights in {path}"
    raise CheckpointError(f"{path}: neither a checkpoint.pt nor a generator state_dict")


def build_generator(path, which="auto", device="cpu", loaded=None):
    """A Generator in eval mode with the weights of `path` (see
    generator_state). Raises CheckpointError when they do not fit."""
    from .dcgan import Generator

    state, description = generator_state(path, which, loaded)
    weight = state.get("ct1.weight")
    if weight is None or weight.dim() != 4:
        raise CheckpointError(f"{path}: no 'ct1.weight', so not the article's Generator")
    gen = Generator(inputDim=weight.shape[0], outputChannels=state["ct4.weight"].shape[1])
    try:
        gen.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "mismatch"
        raise CheckpointError(f"{path}: weights do not fit the article's Generator ({first})") from None
    return gen.to(device).eval(), description
