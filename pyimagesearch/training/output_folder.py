"""Who owns the output folder: the names of the files a training run writes
there, what becomes of an earlier run's files (the previous-run policy), and
claiming the folder: the lock, then the replacement of what may go.

Nothing in the folder is deleted or written before `claim`: a run that
fails its checks leaves the folder as it found it. A previous run that
--overwrite (or the showcase) replaces is not deleted at `claim` either: its
files are moved aside into SET_ASIDE, deleted once the new run has saved
its first epoch (`saved_an_epoch`), and moved back if it ends before
(`give_back`). A run killed in between leaves them in SET_ASIDE; the next
invocation in that folder finishes what the killed one began (`recover`),
as a database replays its journal: SET_ASIDE's marker COMPLETE says every
file was moved, and a checkpoint.pt beside it that the new run had saved
its first epoch. The folder TensorBoard logs in by default (BOARD) is one of
the run's files: set aside, given back and deleted with the others.
"""

import glob
import json
import os
import re
import shutil
import time

from .. import files
from ..checkpoint import SET_ASIDE      # where a replaced run waits for the new one's first epoch
from ..errors import UsageError
from ..interrupts import interrupts_deferred

CHECKPOINT = "checkpoint.pt"
GENERATOR = "generator.pth"
GENERATOR_EMA = "generator_ema.pth"
GENERATOR_BEST = "generator_best.pth"
RUN_JSON = "run.json"
HISTORY = "history.csv"
LOSSES_PLOT = "losses.png"
METRICS = "metrics.json"
GIF = "output.gif"
BOARD = "tensorboard"           # a folder: --tensorboard's events, without DIR
# every file a training run writes into its output folder, and its montages
RUN_FILES = (CHECKPOINT, GENERATOR, GENERATOR_EMA, GENERATOR_BEST, RUN_JSON, HISTORY,
             LOSSES_PLOT, METRICS, GIF)
MONTAGES = "epoch_*.png"
MONTAGE = re.compile(r"epoch_\d{4,}\.png")
SHOWCASE = "SHOWCASE.md"        # marks the sample run committed in output/
COMPLETE = ".complete"          # in SET_ASIDE: written once every file is there
DELETING = ".previous-run.deleting"   # SET_ASIDE, renamed once the new run saved an epoch
WEIGHTS = (CHECKPOINT, GENERATOR, GENERATOR_EMA, GENERATOR_BEST)


def is_run_file(name):
    """Whether a training run writes a file of this name."""
    return name in RUN_FILES or MONTAGE.fullmatch(name) is not None


def run_holding(path):
    """The training run's folder when `path` (or the file a link at `path`
    leads to) is one of that run's own files: a name a run writes, in a
    folder holding a run.json. None otherwise."""
    for candidate in {os.path.abspath(path), os.path.realpath(path)}:
        folder, name = os.path.split(candidate)
        if is_run_file(name) and os.path.isfile(os.path.join(folder, RUN_JSON)):
            return folder
    return None


def run_files(folder):
    """The files of a previous training run inside `folder` (its BOARD
    folder among them)."""
    found = [name for name in RUN_FILES if os.path.isfile(os.path.join(folder, name))]
    board = os.path.join(folder, BOARD)
    if os.path.isdir(board) and not os.path.islink(board) and os.listdir(board):
        found.append(BOARD)
    return found + sorted(os.path.basename(p) for p in
                          glob.glob(os.path.join(glob.escape(folder), MONTAGES))
                          if os.path.isfile(p))


def events_in(folder):
    """The TensorBoard event files directly in `folder`."""
    return glob.glob(os.path.join(glob.escape(folder), "events.out.tfevents.*"))


def board_only(folder):
    """Whether `folder` holds TensorBoard's event files and nothing else."""
    return os.path.isdir(folder) and len(events_in(folder)) == len(os.listdir(folder))


def remove(path):
    """Delete one of a run's files (BOARD: the folder and its events)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def run_folder_above(path, own=None):
    """The nearest folder at or above `path` that holds a training run's
    run.json, other than `own` (None: there is none)."""
    folder = os.path.abspath(path)
    own = os.path.realpath(own) if own else None
    while True:
        if os.path.isfile(os.path.join(folder, RUN_JSON)) and os.path.realpath(folder) != own:
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


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

    def recover_or_wait(self, main=True, seconds=60):
        """`recover` in the `main` process, saying what it did; the other
        processes of torchrun wait for it (at most `seconds`) before they
        read the folder."""
        if main:
            said = self.recover()
            if said:
                print(f"[INFO] {said}", flush=True)
            return
        deadline = time.monotonic() + seconds
        while os.path.isdir(self.file(SET_ASIDE)) and time.monotonic() < deadline:
            time.sleep(0.1)

    def plan(self, overwrite, resuming=False):
        """The previous-run policy for a new run: the files of an earlier
        run that `claim` will replace (the repository's showcase, a run that
        never finished an epoch, or any run with --overwrite); UsageError
        for any other earlier run. A resumed run replaces nothing."""
        self.toReplace, self.notice, self.keep = [], None, False
        if resuming or not os.path.isdir(self.path):
            return self.toReplace
        if os.path.lexists(self.file(SET_ASIDE)) and not os.path.isdir(self.file(SET_ASIDE)):
            raise UsageError(f"argument -o/--output: {self.file(SET_ASIDE)} is not a folder, where "
                             "an --overwrite sets the previous run aside: move it away")
        if os.path.lexists(self.file(SET_ASIDE)):
            raise UsageError(
                f"argument -o/--output: {self.path} holds a previous run's files in "
                f"{self.file(SET_ASIDE)}, set aside by an --overwrite that was killed before "
                "its first epoch, and they could not be put back by themselves: move them "
                f"back to keep that run, or delete the folder {SET_ASIDE}, then run again")
        inTheWay = [name for name in RUN_FILES if os.path.lexists(self.file(name))
                    and not os.path.isfile(self.file(name))]
        if inTheWay:
            raise UsageError(f"argument -o/--output: {self.file(inTheWay[0])} is not a file (a "
                             "folder or a link to nothing), where the run must write one; "
                             "move it away, or choose another folder")
        board = self.file(BOARD)
        if os.path.islink(board) or os.path.exists(board) and not board_only(board):
            raise UsageError(f"argument -o/--output: {board} is where a run's TensorBoard events "
                             "go, and it is a link or holds other files; move it away, or "
                             "choose another folder")
        if events_in(self.path):
            raise UsageError(f"argument -o/--output: {self.path} holds TensorBoard events of "
                             "another run (its --tensorboard folder); choose another folder")
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
            with interrupts_deferred():       # a signal now: once the moves are done
                self._replace()
        files.remove_leftovers(self.path, is_run_file)

    def _replace(self):
        """Delete what `plan` chose, or with --overwrite move it into
        SET_ASIDE and then write the marker COMPLETE (the journal's
        commit: every file is aside)."""
        if self.keep:
            os.mkdir(self.file(SET_ASIDE))
            self.setAside = True
        for name in self.toReplace:
            path = self.file(name)
            if os.path.isfile(path) or name == BOARD and os.path.isdir(path):
                if self.keep:
                    os.replace(path, os.path.join(self.file(SET_ASIDE), name))
                else:
                    remove(path)
        if self.keep:
            files.write_bytes(os.path.join(self.file(SET_ASIDE), COMPLETE), b"")

    def saved_an_epoch(self):
        """The new run has a checkpoint: the run it replaced can go (renamed
        to DELETING first, in one step, so that a kill while it is deleted
        never leaves a part of it looking like a run to put back)."""
        if self.setAside:
            os.replace(self.file(SET_ASIDE), self.file(DELETING))
            self.setAside = False
            shutil.rmtree(self.file(DELETING), ignore_errors=True)

    def give_back(self):
        """The new run ended before its first epoch was saved: delete what it
        wrote and move the replaced run's files back. Returns the line that
        says so, or None when nothing was set aside."""
        if not self.setAside:
            return None
        aside = self.file(SET_ASIDE)
        self.setAside = False
        try:
            with interrupts_deferred():               # a signal now: once all is back
                for name in run_files(self.path):     # all this run's: the previous are aside
                    remove(self.file(name))
                self._move_back(aside)
        except OSError as e:
            return (f"the previous run's files are still in {aside}: they could not be moved "
                    f"back ({e.strerror or e}); move them back by hand")
        return f"the previous run's files are back in {self.path}, as they were"

    def _move_back(self, aside):
        """SET_ASIDE's files back where they were: the marker goes first, so
        that a kill half way leaves what `recover` takes for a set-aside half
        done, and finishes."""
        remove(os.path.join(aside, COMPLETE))
        files.remove_leftovers(aside, lambda name: name == COMPLETE)   # a torn marker
        for name in os.listdir(aside):
            os.replace(os.path.join(aside, name), self.file(name))
        os.rmdir(aside)

    def recover(self):
        """Finish what an --overwrite killed before its first epoch left
        (call with the folder locked, before anything reads it): the
        set-aside run put back where it was, or, when the new run had saved
        its first epoch, deleted as it was to be. Returns the line that
        says which (None: nothing was left). What cannot be told apart (a
        name in both places, without the marker) is left for `plan` to
        refuse."""
        if os.path.isdir(self.file(DELETING)) and not os.path.islink(self.file(DELETING)):
            with interrupts_deferred():
                shutil.rmtree(self.file(DELETING))
            return (f"{self.path}: finished deleting the run an --overwrite replaced (the new "
                    "run had saved its first epoch)")
        aside = self.file(SET_ASIDE)
        if not os.path.isdir(aside) or os.path.islink(aside):
            return None
        with interrupts_deferred():                   # a signal now: once it is settled
            return self._settle(aside)

    def _settle(self, aside):
        complete = os.path.isfile(os.path.join(aside, COMPLETE))
        if complete:
            files.remove_leftovers(self.path, is_run_file)     # the killed run's torn saves
        if complete and os.path.isfile(self.file(CHECKPOINT)):
            # every old file was aside, so this checkpoint is the new run's
            os.replace(aside, self.file(DELETING))
            shutil.rmtree(self.file(DELETING))
            return (f"{self.path}: the run an --overwrite replaced had been set aside in "
                    f"{SET_ASIDE}, and the new run saved its first epoch before it was "
                    "killed: the old run is now deleted, as it was to be")
        files.remove_leftovers(aside, lambda name: name == COMPLETE)
        previous = [name for name in os.listdir(aside) if name != COMPLETE]
        killed = run_files(self.path) if complete else []      # the killed run's own
        if not complete and set(previous) & set(os.listdir(self.path)):
            return None
        try:
            for name in killed:
                remove(self.file(name))
            self._move_back(aside)
        except OSError as e:
            raise files.WriteError(f"cannot put back the run set aside in {aside} "
                                   f"({e.strerror or e}); move its files back by hand") from None
        return (f"{self.path}: put back the previous run ({len(previous)} files) that an "
                f"--overwrite, killed before its first epoch, had set aside in {SET_ASIDE}"
                + (f"; the killed run's {len(killed)} files deleted" if killed else ""))

    def release(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None
