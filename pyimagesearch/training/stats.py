"""The statistics of one epoch: each batch's losses and D's mean verdicts,
kept on the device without their autograd graphs and read once, at the end
of the epoch, as a table with named columns."""

import time

import torch

from . import distributed
from .progress import EpochProgress

# what one batch gives, in the order of history.csv's columns
COLUMNS = ("loss_g", "loss_d", "d_x", "d_g_z")


class EpochStats:
    """`batches`: one (4,) tensor per batch, on the device; after `close`,
    `table`: (batches, 4) on the CPU, averaged over the processes, and
    `seconds`, the epoch's time. `progress` (an EpochProgress, or None)
    shows the batches as they come. `diverged` (or None): the error that
    stops the run at a batch (1-based) whose values are not all finite
    numbers, raised by `add` or `close` (last_batch_broke, first_broken)."""

    def __init__(self, progress=None, diverged=None):
        self.batches, self.table, self.progress = [], None, progress
        self.started, self.seconds, self.diverged = time.perf_counter(), None, diverged

    @classmethod
    def shown(cls, epoch, numEpochs, loader, enabled, diverged=None):
        """The statistics of an epoch over `loader`, with its progress bar."""
        stats = cls(EpochProgress(epoch, numEpochs, len(loader.images), enabled=enabled),
                    diverged)
        stats.loader = loader
        return stats

    def add(self, errorG, errorD, meanDx, meanDGz):
        # NOTE(deviation 14): kept on the device, read once at the end of the
        # epoch (the progress bar reads a running mean every 25 batches)
        self.batches.append(torch.stack([errorG.detach(), errorD.detach(),
                                         meanDx.detach(), meanDGz.detach()]))
        if self.progress is not None:
            self.progress.update(self.loader.lastBatchImages, self.batches)
        if self.diverged is not None and self.last_batch_broke():
            raise self.diverged(len(self.batches))

    def last_batch_broke(self):
        """Whether the last batch's values are not all finite numbers (a
        diverged training): read at once on the CPU, where it costs nothing;
        on an accelerator a read each batch would wait for the device, so
        there `first_broken` tells, at the end of the epoch."""
        row = self.batches[-1]
        return row.device.type == "cpu" and not bool(torch.isfinite(row).all())

    def first_broken(self):
        """After `close`: the index of the first batch whose values are not
        all finite numbers, or None."""
        broken = (~torch.isfinite(self.table)).any(dim=1).nonzero()
        return int(broken[0]) if len(broken) else None

    def close(self, ctx, device):
        """The table of the epoch (every process's batches averaged under
        torchrun: each process takes part)."""
        if self.progress is not None:
            self.progress.close()
        table = torch.stack(self.batches).cpu()                 # (batches, 4)
        self.table = distributed.average(table.to(device), ctx).cpu()
        self.seconds = time.perf_counter() - self.started
        broken = self.first_broken()
        if self.diverged is not None and broken is not None:
            raise self.diverged(broken + 1)
        return self.table

    def mean(self, column):
        """The epoch's mean of one of COLUMNS."""
        return self.table[:, COLUMNS.index(column)].mean().item()

    def means(self, *columns):
        return tuple(self.mean(column) for column in columns)
