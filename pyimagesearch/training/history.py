"""The per-batch record of a training run: history.csv, losses.png's data."""

import csv
import io

import torch

from .. import files, visualize

# the columns of history.csv, one row per batch; the quality metrics
# (--eval-every) fill the last row of an evaluated epoch and are blank (NaN
# in the tensor) elsewhere
METRICS = ("fld", "inception_score", "classes_covered", "precision", "recall",
           "density", "coverage")
COLUMNS = (("epoch", "step", "loss_g", "loss_d", "d_x", "d_g_z") + METRICS
           + tuple(m + "_ema" for m in METRICS))
BATCH_COLUMNS = COLUMNS[2:6]       # what one batch yields
METRIC_COLUMNS = COLUMNS[6:]
# the columns of version 1's history (before precision, recall, density and
# coverage; "coverage" then counted classes): checkpoints it wrote still load
VERSION_1 = ("epoch", "step", "loss_g", "loss_d", "d_x", "d_g_z", "fld", "inception_score",
             "classes_covered", "fld_ema", "inception_score_ema", "classes_covered_ema")


class History:
    """A (steps, len(COLUMNS)) float64 tensor, one row per batch."""

    def __init__(self, rows=None):
        if rows is None:
            rows = torch.empty(0, len(COLUMNS), dtype=torch.float64)
        elif rows.shape[1] == len(VERSION_1):
            old, rows = rows, torch.full((len(rows), len(COLUMNS)), float("nan"), dtype=torch.float64)
            for i, name in enumerate(VERSION_1):
                rows[:, COLUMNS.index(name)] = old[:, i]
        self.rows = rows

    def add_epoch(self, epoch, stats):
        """stats: (batches, 4) [loss_g, loss_d, d_x, d_g_z] of epoch `epoch`
        (0-based)."""
        first = len(self.rows)
        rows = torch.cat([torch.full((len(stats), 1), epoch + 1.0),
                          torch.arange(first, first + len(stats)).unsqueeze(1),
                          stats, torch.full((len(stats), len(METRIC_COLUMNS)), float("nan"))],
                         dim=1).double()
        self.rows = torch.cat([self.rows, rows])

    def set_metrics(self, scores):
        """The quality metrics of the epoch just added, on its last row;
        scores as metrics.Scorer gives them, with the EMA's under "ema"."""
        ema = scores.get("ema", {})
        self.rows[-1, len(COLUMNS) - len(METRIC_COLUMNS):] = torch.tensor(
            [float(scores[c]) if c in scores else float(ema.get(c.removesuffix("_ema"), "nan"))
             for c in METRIC_COLUMNS])

    def columns(self):
        """The history as a dict of columns (lists)."""
        return {column: self.rows[:, i].tolist() for i, column in enumerate(COLUMNS)}

    def write(self, csvPath, plotPath):
        """history.csv and losses.png."""
        self.write_csv(csvPath)
        visualize.plot_losses(self.columns(), plotPath)

    def write_csv(self, path):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        for epoch, step, *values in self.rows.tolist():
            writer.writerow([int(epoch), int(step)] +
                            ["" if v != v else f"{v:.6f}" for v in values])   # NaN -> blank
        files.write_bytes(path, text.getvalue().encode())
