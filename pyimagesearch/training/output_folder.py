"""Who owns the output folder: the names of the files a training run writes
there, what becomes of an earlier run's files (the previous-run policy), and
claiming the folder: the lock, then the replacement of what may go.

Nothing in the folder is deleted or written before `claim`: a run that
fails its checks leaves the folder as it found it.
"""

import glob
import json
import os

from .. import files
from ..errors import UsageError

CHECKPOINT = "checkpoint.pt"
GENERATOR = "generator.pth"
GENERATOR_EMA = "generator_ema.pth"
GENERATOR_BEST = "generator_best.pth"
RUN_JSON = "run.json"
HISTORY = "history.csv"
LOSSES_PLOT = "losses.png"
METRICS = "metrics.json"
GIF = "output.gif"
# every file a training run writes into its output folder, and its montages
RUN_FILES = (CHECKPOINT, GENERATOR, GENERATOR_EMA, GENERATOR_BEST, RUN_JSON, HISTORY,
             LOSSES_PLOT, METRICS, GIF)
MONTAGES = "epoch_*.png"
SHOWCASE = "SHOWCASE.md"        # marks the sample run committed in output/


def run_files(folder):
    """The files of a previous training run inside `folder`."""
    found = [name for name in RUN_FILES if os.path.isfile(os.path.join(folder, name))]
    return found + sorted(os.path.basename(p) for p in
                          glob.glob(os.path.join(glob.escape(folder), MONTAGES))
                          if os.path.isfile(p))


def stopped_before_first_epoch(folder, previous):
    """True when the earlier run's own record shows that it never finished
    an epoch (killed, interrupted or failed in epoch 1): then nothing of it
    is worth keeping. `previous`: run_files(folder)."""
    if CHECKPOINT in previous or GENERATOR in previous or RUN_JSON not in previous:
        return False
    try:
        with open(os.path.join(folder, RUN_JSON)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return (isinstance(record, dict) and record.get("losses") == []
            and record.get("status") in ("running", "interrupted", "failed"))


class OutputFolder:
    """--output: `path`; `toReplace`, the earlier run's files that `claim`
    deletes, and `notice`, the line that says so."""

    def __init__(self, path):
        self.path, self.lock = path, None
        self.toReplace, self.notice = [], None

    def file(self, name):
        return os.path.join(self.path, name)

    def lock_if_present(self):
        """Hold the folder from now on, if it exists already (FolderBusy when
        another process does)."""
        if os.path.isdir(self.path):
            self.lock = files.FolderLock(self.path).acquire()

    def plan(self, overwrite):
        """The previous-run policy for a new run: the files of an earlier
        run that `claim` will replace (the repository's showcase, a run that
        never finished an epoch, or any run with --overwrite); UsageError
        for any other earlier run."""
        self.toReplace, self.notice = [], None
        if not os.path.isdir(self.path):
            return self.toReplace
        previous = run_files(self.path)
        if os.path.exists(self.file(SHOWCASE)):
            self.notice = (f"{self.path} holds the repository's showcase run; replacing "
                           f"it (git checkout -- {self.path} brings it back)")
            self.toReplace = previous + [SHOWCASE]
        elif previous and overwrite:
            self.notice = (f"--overwrite: deleting the previous run's {len(previous)} "
                           f"files in {self.path}")
            self.toReplace = previous
        elif previous and stopped_before_first_epoch(self.path, previous):
            self.notice = (f"{self.path} holds what is left of a run that stopped before "
                           f"its first epoch ended; starting over")
            self.toReplace = previous
        elif previous:
            shown = ", ".join(previous[:4]) + (", ..." if len(previous) > 4 else "")
            raise UsageError(f"argument -o/--output: {self.path} already holds another run's "
                             f"results ({shown}); pass --resume to continue that run, "
                             "--overwrite to replace it, or choose another folder")
        return self.toReplace

    def claim(self, newRun):
        """Make the folder this run's: create and lock it, check that no
        other run's files appeared since `plan` (newRun), delete what `plan`
        chose and the leftovers of killed saves. The first process only."""
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise files.WriteError(f"cannot create {self.path}: {e.strerror or e}") from None
        if self.lock is None:
            self.lock = files.FolderLock(self.path).acquire()
        if newRun:
            appeared = sorted(set(run_files(self.path)) - set(self.toReplace))
            if appeared:          # another run finished there while this one loaded
                raise files.FolderBusy(
                    f"{self.path} received another run's files ({', '.join(appeared[:4])}) "
                    "while this run was getting ready; nothing was changed: choose another "
                    "--output, or --overwrite")
        if self.toReplace:
            print(f"[INFO] {self.notice}")
            for name in self.toReplace:
                path = self.file(name)
                if os.path.isfile(path):
                    os.remove(path)
        files.remove_leftovers(self.path)

    def release(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None
