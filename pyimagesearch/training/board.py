"""--tensorboard DIR: the run as TensorBoard shows it, live
(`tensorboard --logdir DIR`), written with torch.utils.tensorboard by the
first process only. What is logged, and at which step:

    loss/generator, loss/discriminator        each batch (history.csv's loss_g, loss_d)
    verdict/real, verdict/fake                each batch: D's mean output on real and
                                              generated images (d_x, d_g_z)
    montage                                   each montage, when it is drawn
    quality/..., quality_ema/..., quality_truncated/...   the --eval-every scores (conditioning_...
                                              with --conditional)
    hparams                                   the run's options, at its start

The step is the batch's row in history.csv (its `step` column), so a
resumed run continues the same curves: it opens DIR with purge_step at the
checkpoint's step, and TensorBoard hides what a killed invocation logged
after that checkpoint (no step twice). In one process the batches go out
every LIVE_EVERY batches, as they are trained; under torchrun at the end of
each epoch, averaged over the processes as in history.csv.

TensorBoard's writer writes in a thread of its own, which dies on an error
(a full disk) and raises it again at the writer's next call. That error is
said once, as a WriteError (the run ends "failed" in one line; the run
writes the epoch's events after its checkpoint, so checkpoint.pt keeps the
epoch), and the dying thread's own traceback is not printed.
"""

import contextlib
import os
import sys
import threading

import cv2
import numpy as np

from ..errors import UsageError
from ..files import WriteError, cause
from .output_folder import BOARD, events_in, run_folder_above

LIVE_EVERY = 25                     # batches between writes within an epoch (one device sync)
FLUSH_SECONDS = 10
BATCH_TAGS = ("loss/generator", "loss/discriminator", "verdict/real", "verdict/fake")
QUALITY = ("fld", "inception_score", "classes_covered", "precision", "recall", "density",
           "coverage")
CONDITIONING = ("accuracy", "worst_accuracy", "mean_class_fld", "mean_class_recall")


def folder_of(value, output):
    """The folder --tensorboard names: `value` is the option's (None or
    False: off, None returned; True: given without DIR, --output's
    tensorboard/, which goes with the run's other files)."""
    if value is None or value is False:
        return None
    return os.path.join(output, BOARD) if value is True else value


def check_folder(folder, output, resuming, recorded=None):
    """Refuse (UsageError, nothing written) a folder that cannot be written,
    one inside another run's folder (as given or where its links lead), or
    one that holds another run's events. --output's own tensorboard/ is one
    of the run's files: the output folder's policy refuses, sets aside or
    replaces it with the rest (output_folder.py). `recorded`: a resumed
    run's folder, which it goes on logging in."""
    option = "argument --tensorboard"
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"{option}: {folder} is a file, not a folder")
    parent = os.path.abspath(folder)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{option}: {parent} is not a folder, so {folder} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: {parent} is not writable; choose another folder")
    own = os.path.join(output, BOARD)
    if os.path.islink(own):
        raise UsageError(f"{option}: {own} is a link; the run's events go in a folder of its own "
                         "there: move the link away")
    if same_place(folder, own):
        return
    other = run_folder_above(folder, own=output) or \
        run_folder_above(os.path.realpath(folder), own=output)
    if other:
        raise UsageError(f"{option}: {folder} is inside {other}, another training run's "
                         "folder, where its events would mix with that run's files; choose "
                         "a folder outside it")
    if resuming and recorded and same_place(folder, recorded):
        return                                  # where this run has logged all along
    if inside(folder, output):
        raise UsageError(f"{option}: inside --output the events go in {own} (give "
                         "--tensorboard without DIR), so that they go with the run's files")
    if events_in(folder):
        raise UsageError(f"{option}: {folder} already holds TensorBoard events of another run; "
                         "choose another folder (TensorBoard shows each subfolder of --logdir "
                         "as one run); --overwrite replaces only what is in --output")


def same_place(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def inside(path, folder):
    """Whether `path` is `folder` or lies below it."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def checked_folder(value, output, resuming, recorded=None):
    """--tensorboard's folder (None: off), checked by check_folder; `value`
    the option's (folder_of), `recorded` the folder a resumed run logged in
    (folder_of of its checkpoint's value)."""
    folder = folder_of(value, output)
    if folder:
        check_folder(folder, output, resuming, recorded)
    return folder


def start(folder, purgeStep, live, options=None):
    """The log of this process: a TensorBoardLog on `folder` (None: the
    NoTensorBoard of a run without the option, or of a process other than
    the first); options: (args, recipe) written as hparams (a new run)."""
    if folder is None:
        return NoTensorBoard()
    log = TensorBoardLog.open(folder, purgeStep, live)
    if options:
        log.hparams(*options)
    return log


def scalar(value):
    """An option's value as the hparams plugin takes it (a number, a string
    or a bool)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is None else str(value)


class TensorBoardLog:
    """The event file of one invocation: `open`, then `start_epoch`,
    `batches` (as they come), `end_epoch`; `close` at the end."""

    def __init__(self, live, folder):
        self.writer, self.live, self.folder = None, live, folder
        self.first = self.written = 0
        self.failed = False
        # the writer's threads, whose dying traceback is not printed: until
        # the writer is made, any thread started since
        self.before, self.threads = set(threading.enumerate()), set()
        self.excepthook = threading.excepthook
        threading.excepthook = self._thread_died

    @classmethod
    def open(cls, folder, purgeStep, live):
        """A writer on `folder` that hides events at purgeStep and after
        (a resumed run's step; 0 for a new run). live: write within epochs."""
        from torch.utils.tensorboard import SummaryWriter   # imports tensorboard: only when asked
        log = cls(live, folder)
        try:
            os.makedirs(folder, exist_ok=True)
            log.writer = SummaryWriter(log_dir=folder, purge_step=purgeStep,
                                       flush_secs=FLUSH_SECONDS)
        except OSError as e:
            log.close(failing=True)
            raise WriteError(f"--tensorboard: cannot write in {folder}: "
                             f"{cause(e, folder)}") from None
        log.threads, log.before = set(threading.enumerate()) - log.before, None
        print(f"[INFO] logging for TensorBoard in {folder}: watch it with "
              f"`tensorboard --logdir {folder}`")
        return log

    def _thread_died(self, args):
        """threading.excepthook while the log is open: the writer's thread
        dies quietly (its error comes back at the writer's next call, said
        there once); any other thread's error is printed as before."""
        ours = args.thread in self.threads if self.before is None else args.thread not in self.before
        if not ours:
            self.excepthook(args)

    @contextlib.contextmanager
    def _writing(self):
        """The writer's calls: an OSError (raised by the call, or by the
        writer's thread before it) becomes the one WriteError."""
        try:
            yield
        except OSError as e:
            self.failed = True
            raise WriteError(f"--tensorboard: cannot write the events in {self.folder}: "
                             f"{cause(e, self.folder)}; checkpoint.pt keeps every epoch trained "
                             "so far: make room (or drop --tensorboard) and continue with "
                             "--resume") from None

    def hparams(self, args, recipe):
        """The run's options (and its recipe) as TensorBoard's hparams, with
        the scores the HParams table shows beside them."""
        from torch.utils.tensorboard.summary import hparams     # as open: only when asked
        options = {name: scalar(value) for name, value in sorted(args.items())}
        options["recipe"] = recipe
        metrics = {f"quality/{name}": float("nan") for name in ("fld", "recall", "coverage")}
        with self._writing():
            for summary in hparams(options, metrics):
                self.writer.file_writer.add_summary(summary)

    def start_epoch(self, firstStep):
        """firstStep: the step (history.csv row) of the epoch's first batch."""
        self.first, self.written = firstStep, 0

    def batches(self, rows):
        """rows: this epoch's (4,) tensors so far [loss_g, loss_d, d_x, d_g_z];
        written every LIVE_EVERY batches when live."""
        if self.live and len(rows) - self.written >= LIVE_EVERY:
            self._write_rows([row.tolist() for row in rows[self.written:]])

    def _write_rows(self, values):
        with self._writing():
            for i, row in enumerate(values):
                for tag, value in zip(BATCH_TAGS, row):
                    self.writer.add_scalar(tag, value, self.first + self.written + i)
        self.written += len(values)

    def end_epoch(self, epoch, table, montage=None, scores=None):
        """The epoch's batches not written yet (table: the epoch's (batches,
        4) statistics, as history.csv's), the montage (the PNG the script
        wrote, or None) and the scores of an evaluation."""
        self._write_rows(table[self.written:].tolist())
        image = cv2.imread(montage, cv2.IMREAD_COLOR) if montage else None   # (H, W, 3) BGR
        with self._writing():
            self._write_epoch(epoch, self.first + len(table) - 1, image, scores)
            self.writer.flush()

    def _write_epoch(self, epoch, last, image, scores):
        """end_epoch's events at step `last`, the epoch's last batch."""
        self.writer.add_scalar("epoch", epoch + 1, last)
        if image is not None:
            self.writer.add_image("montage", np.ascontiguousarray(image[:, :, ::-1]), last,
                                  dataformats="HWC")
        for prefix, values in (("quality", scores or {}),
                               ("quality_ema", (scores or {}).get("ema") or {}),
                               ("quality_truncated", (scores or {}).get("truncated") or {})):
            for name in QUALITY:
                if name in values:
                    self.writer.add_scalar(f"{prefix}/{name}", float(values[name]), last)
            for name in CONDITIONING:               # --conditional's
                value = (values.get("conditioning") or {}).get(name)
                if value is not None:
                    self.writer.add_scalar(f"{prefix}/conditioning_{name}", float(value), last)

    def close(self, failing=False):
        """The last events written and the file closed (once). `failing`: the
        run ends on an error already said, so this one goes unsaid; after a
        run that went well, one warning line."""
        writer, self.writer = self.writer, None
        try:
            if writer is not None:
                writer.close()
        except OSError as e:
            if not (failing or self.failed):
                print(f"[WARNING] --tensorboard: the last events could not be written in "
                      f"{self.folder}: {cause(e, self.folder)}", file=sys.stderr, flush=True)
        finally:
            if self.before is not None:             # the writer was not made: its thread, if any
                self.threads = set(threading.enumerate()) - self.before
            for thread in self.threads:             # a dying one runs the hook yet
                thread.join(timeout=1)
            if threading.excepthook == self._thread_died:
                threading.excepthook = self.excepthook


class NoTensorBoard:
    """What a run without --tensorboard (or a process other than the first)
    logs: nothing."""

    def hparams(self, args, recipe):
        pass

    def start_epoch(self, firstStep):
        pass

    def batches(self, rows):
        pass

    def end_epoch(self, epoch, table, montage=None, scores=None):
        pass

    def close(self, failing=False):
        pass
