"""Who owns the output folder: the names of the files a training run writes
there, what becomes of an earlier run's files (the previous-run policy), and
claiming the folder: the lock, then the replacement of what may go.

Nothing in the folder is deleted or written before `claim`: a run that
fails its checks leaves the folder as it found it. A previous run that
--overwrite (or the showcase) replaces is not deleted at `claim` either: its
files are moved aside into SET_ASIDE, deleted once the new run has saved
its first epoch (`saved_an_epoch`), and moved back if it ends before
(`give_back`). A run killed in between leaves them in SET_ASIDE, and the
next run in that folder is refused until the user has chosen.
"""

import glob
import json
import os
import re
import shutil

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
MONTAGE = re.compile(r"epoch_\d{4,}\.png")
SHOWCASE = "SHOWCASE.md"        # marks the sample run committed in output/
SET_ASIDE = ".previous-run"     # where a replaced run waits for the new one's first epoch
WEIGHTS = (CHECKPOINT, GENERATOR, GENERATOR_EMA, GENERATOR_BEST)


def is_run_file(name):
    """Whether a training run writes a file of this name."""
    return name in RUN_FILES or MONTAGE.fullmatch(name) is not None


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
        self.toReplace, self.notice, self.setAside = [], None, False

    def file(self, name):
        return os.path.join(self.path, name)

    def lock_if_present(self, main=True):
        """Hold the folder from now on, if it exists already (FolderBusy when
        another process does); only the `main` process holds it."""
        if main and os.path.isdir(self.path):
            self.lock = files.FolderLock(self.path).acquire()

    def plan(self, overwrite, resuming=False):
        """The previous-run policy for a new run: the files of an earlier
        run that `claim` will replace (the repository's showcase, a run that
        never finished an epoch, or any run with --overwrite); UsageError
        for any other earlier run. A resumed run replaces nothing."""
        self.toReplace, self.notice, self.keep = [], None, False
        if resuming or not os.path.isdir(self.path):
            return self.toReplace
        if os.path.lexists(self.file(SET_ASIDE)):
            raise UsageError(
                f"argument -o/--output: {self.path} holds a previous run's files in "
                f"{self.file(SET_ASIDE)}, set aside by an --overwrite that was killed before "
                "its first epoch: move them back to keep that run, or delete the folder "
                f"{SET_ASIDE}, then run again")
        inTheWay = [name for name in RUN_FILES if os.path.lexists(self.file(name))
                    and not os.path.isfile(self.file(name))]
        if inTheWay:
            raise UsageError(f"argument -o/--output: {self.file(inTheWay[0])} is not a file (a "
                             "folder or a link to nothing), where the run must write one; "
                             "move it away, or choose another folder")
        previous = run_files(self.path)
        if os.path.exists(self.file(SHOWCASE)) and not set(WEIGHTS) & set(previous):
            # the repository's own showcase: its marker and no weights (never committed)
            self.keep = True
            self.notice = (f"{self.path} holds the repository's showcase run; replacing "
                           f"it (git checkout -- {self.path} brings it back)")
            self.toReplace = previous + [SHOWCASE]
        elif previous and overwrite:
            self.notice = (f"--overwrite: the previous run's {len(previous)} files in "
                           f"{self.path} are set aside, and deleted once this run has saved "
                           "its first epoch")
            self.toReplace, self.keep = previous, True
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
            if self.keep:
                os.mkdir(self.file(SET_ASIDE))
                self.setAside = True
            for name in self.toReplace:
                path = self.file(name)
                if os.path.isfile(path):
                    if self.keep:
                        os.replace(path, os.path.join(self.file(SET_ASIDE), name))
                    else:
                        os.remove(path)
        files.remove_leftovers(self.path, is_run_file)

    def saved_an_epoch(self):
        """The new run has a checkpoint: the run it replaced can go."""
        if self.setAside:
            shutil.rmtree(self.file(SET_ASIDE), ignore_errors=True)
            self.setAside = False

    def give_back(self):
        """The new run ended before its first epoch was saved: delete what it
        wrote and move the replaced run's files back. Returns the line that
        says so, or None when nothing was set aside."""
        if not self.setAside:
            return None
        aside = self.file(SET_ASIDE)
        self.setAside = False
        try:
            for name in run_files(self.path):     # all this run's: the previous are aside
                os.remove(self.file(name))
            for name in os.listdir(aside):
                os.replace(os.path.join(aside, name), self.file(name))
            os.rmdir(aside)
        except OSError as e:
            return (f"the previous run's files are still in {aside}: they could not be moved "
                    f"back ({e.strerror or e}); move them back by hand")
        return f"the previous run's files are back in {self.path}, as they were"

    def release(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None
