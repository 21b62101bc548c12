"""How an invocation ends: the files written after the last epoch and the
line that names them, or, when it is cut short, what Ctrl-C says was kept."""

import shlex

from .. import files, visualize
from ..errors import UserError, exit_for
from . import distributed
from .output_folder import CHECKPOINT, GENERATOR, GENERATOR_BEST, GENERATOR_EMA, GIF, HISTORY, \
    LOSSES_PLOT, METRICS, RUN_JSON


def check_replicas(gen, ctx, record):
    """Under torchrun the replicas must agree (the averaged gradients keep
    them in step): recorded, and the end of the run if they do not."""
    digests = distributed.gather(distributed.parameters_digest(gen), ctx)
    record.set("replicas_identical", len(set(digests)) == 1)
    if len(set(digests)) != 1:
        raise SystemExit("[ERROR] the generator's weights differ between processes")


def write_final_files(folder, record, gen, ema, stopEpoch, numEpochs, launcher="python"):
    """output.gif of the montages, generator.pth (generator_ema.pth), then
    run.json's last status ("stopped" before numEpochs); says which files
    are where, and how to continue (`launcher`: distributed.launcher's)."""
    finished = stopEpoch == numEpochs
    written = []
    if record.montages:
        visualize.animate_montages(folder.file(GIF), [folder.file(m) for m in record.montages])
        written += ["montages", GIF]
    files.save_torch(folder.file(GENERATOR), gen.state_dict())
    written.append(GENERATOR)
    if ema is not None:
        files.save_torch(folder.file(GENERATOR_EMA), ema.recalibrate().state_dict())
        written.append(GENERATOR_EMA)
    if record.best:
        written.append(GENERATOR_BEST)
        print(f"[INFO] the lowest FLD, {record.best['fld']:.3f}, was epoch "
              f"{record.best['epoch']}'s: its generator is {GENERATOR_BEST}")
    record.finish(finished)
    if not finished:
        print(f"[INFO] stopped after epoch {stopEpoch} of {numEpochs} as asked; "
              f"continue with: {launcher} dcgan_mnist.py --output {shlex.quote(str(folder.path))} "
              "--resume")
    written += [HISTORY, LOSSES_PLOT, CHECKPOINT] + ([METRICS] if record.metrics else [])
    written.append(RUN_JSON)
    print(f"[INFO] {', '.join(written[:-1])} and {written[-1]} are in {folder.path}")


def end(error, parser, record, interruptedSaid, back=None):
    """End the invocation on `error`: run.json's status marked (when
    `record`, the claimed folder's RunRecord, is given), or `back`, the line
    saying a replaced run is back; then the one line and exit status of
    errors.exit_for. A bug or a SystemExit goes on as it is."""
    if back:
        print(f"[INFO] {back}", flush=True)
    if record is not None and not isinstance(error, SystemExit):
        record.end_early("interrupted" if isinstance(error, KeyboardInterrupt) else "failed")
    exit = exit_for(error, parser, interrupted=interruptedSaid)
    if exit is not None:
        raise exit from None


def interrupted(output, claimed, epoch, epochsSaved, checkpointPath, ctx=None, main=True):
    """What Ctrl-C says was kept, during epoch `epoch` (0-based), and how
    to continue (under torchrun, with its command); None (nothing said) in
    torchrun's other processes than the first (`main`)."""
    if not main:
        return None
    launcher = distributed.launcher(ctx)
    if not claimed:
        return f"interrupted before training began; nothing in {output} was changed"
    if epochsSaved:
        how = "with --resume" if launcher == "python" else \
            f"with: {launcher} dcgan_mnist.py --output {shlex.quote(str(output))} --resume"
        when = f"during epoch {epoch + 1}" if epochsSaved <= epoch else \
            f"after epoch {epochsSaved}, its files saved"     # (before the next began)
        return (f"interrupted {when}; {checkpointPath} holds {epochsSaved} "
                f"epoch{'s' if epochsSaved != 1 else ''}: continue {how}")
    return "interrupted during epoch 1, so nothing was saved; the same command starts over"


class Diverged(UserError):
    """The losses are no longer finite numbers: the training cannot go on."""


def diverged(batch, epoch, epochsSaved, checkpointPath, recipe):
    """The Diverged error at batch `batch` (1-based) of epoch `epoch`
    (0-based): what was kept, and which options to lower (`recipe`'s)."""
    kept = (f"{checkpointPath} keeps epoch {epochsSaved}, before it" if epochsSaved
            else "no epoch was saved")
    lower = (f"--cr (now {recipe.cr:g}) or " if recipe.cr else "") + \
        f"the learning rates (--lr-d {recipe.lrD:g}, --lr-g {recipe.lrG:g})"
    return Diverged(f"the training diverged: at batch {batch} of epoch {epoch + 1} the losses "
                    f"are no longer finite numbers; {kept}. Lower {lower}")


def broke_the_loss(error):
    """Whether `error` is BCELoss refusing a discriminator's output that is
    not a number (a diverged D, the batch after its weights broke)."""
    return isinstance(error, RuntimeError) and "should be between 0 and 1" in str(error)
