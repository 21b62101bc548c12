"""The per-batch progress of an epoch, on standard error.

In a terminal: a tqdm bar, redrawn in place. Anywhere else (a log file,
`nohup`, CI) a redrawn bar would smear carriage returns into the log, so a
plain line is printed instead, at most once a minute; the article's own
lines on standard output then always start their own lines.
"""

import sys
import time

import torch
from tqdm import tqdm

LOG_INTERVAL = 60          # seconds between progress lines in a log
POSTFIX_EVERY = 25         # batches between updates of the running losses


class EpochProgress:
    def __init__(self, epoch, numEpochs, totalImages, enabled=True, stream=None):
        self.stream = stream or sys.stderr
        self.label = f"epoch {epoch + 1}/{numEpochs}"
        self.total, self.done, self.bar = totalImages, 0, None
        self.enabled = enabled
        self.interactive = enabled and self.stream.isatty()
        self.started = self.lastLine = time.perf_counter()

    def update(self, images, stats):
        """`images` more done; stats: the batches' [G, D, ...] tensors so far."""
        if not self.enabled:
            return
        self.done += images
        if self.interactive:
            if self.bar is None:
                self.bar = tqdm(total=self.total, desc=self.label, unit="img", unit_scale=True,
                                leave=False, file=self.stream, mininterval=0.5)
            self.bar.update(images)
            if len(stats) % POSTFIX_EVERY == 0:            # a device sync now and then
                running = torch.stack(stats[-POSTFIX_EVERY:]).mean(0).tolist()
                self.bar.set_postfix(G=f"{running[0]:.3f}", D=f"{running[1]:.3f}")
        elif time.perf_counter() - self.lastLine >= LOG_INTERVAL:
            self.lastLine = time.perf_counter()
            rate = self.done / (self.lastLine - self.started)
            print(f"[INFO] {self.label}: {self.done:,} of {self.total:,} images "
                  f"({self.done / self.total:.0%}, {rate:,.0f} images/s)",
                  file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
