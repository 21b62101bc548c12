"""The process a run lives in: its place among torchrun's processes, its
standard output (one log: the first process's), its device, and how Ctrl-C
and SIGTERM reach it."""

import os
import signal
import sys
import threading

import torch

from ..device import amp_hint, describe, select_device
from ..errors import UsageError, raise_terminated
from ..interrupts import HeldSignals
from . import distributed


class Process:
    """This process of the run: `ctx` (distributed.Context), `main`
    (whether it is the one that writes and prints)."""

    def __init__(self, ctx=None):
        self.ctx = distributed.from_environment() if ctx is None else ctx
        self.main = self.ctx.main
        self.stdout = sys.stdout
        if not self.main:
            sys.stdout = open(os.devnull, "w")     # one log: the first process's
        elif hasattr(sys.stdout, "reconfigure"):
            # a log file gets each line at once, in order with stderr's
            sys.stdout.reconfigure(line_buffering=True)
        # SIGTERM stops a run as Ctrl-C does; under torchrun (whose agent
        # sends it to every process when it is stopped) at once, not held
        # (a process blocked in a collective must still stop), so that
        # run.json says "interrupted" and the first process says what was kept
        self.sigterm, self.stops = None, HeldSignals(secondAtOnce=True)
        if threading.current_thread() is threading.main_thread():
            self.sigterm = signal.signal(signal.SIGTERM, raise_terminated)

    def device(self, name):
        """The device --device names (this process's own GPU under
        torchrun); UsageError in words when there is none."""
        try:
            device = distributed.setup(self.ctx, select_device(name))
        except ValueError as e:
            raise UsageError(f"argument --device: {e}") from None
        if device.type == "cuda":
            # the layer shapes never change: let cuDNN pick its fastest kernels
            torch.backends.cudnn.benchmark = True
        return device

    def say(self, device, seed, batchSize, amp=False):
        """The [INFO] line of where and how this run trains, and the first
        process's hint to try --amp where it would help (device.amp_hint)."""
        print(f"[INFO] training on {describe(device)}, seed {seed}"
              + (f", {self.ctx.worldSize} processes ({self.ctx.backend}), batch "
                 f"{batchSize} each" if self.ctx.enabled else ""))
        hint = amp_hint(device, amp)
        if hint and self.main:
            print(f"[INFO] {hint}")

    def stop_at_safe_points(self):
        """From now on (the epochs), Ctrl-C and SIGTERM wait for a safe point
        (`stop_if_asked`). Not under torchrun: a process blocked in a
        collective must still die at once."""
        if self.sigterm is not None and not self.ctx.enabled:
            self.stops.hold()

    def stop_if_asked(self):
        """A safe point: a Ctrl-C or SIGTERM that came since is raised here."""
        self.stops.take()

    def close(self):
        """Leave the process group, give the signals and standard output back."""
        self.stops.release(take=False)
        distributed.cleanup(self.ctx)
        if self.sigterm is not None:
            signal.signal(signal.SIGTERM, self.sigterm)
            self.sigterm = None
        if sys.stdout is not self.stdout:
            sys.stdout.close()
            sys.stdout = self.stdout
