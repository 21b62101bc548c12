"""Ctrl-C and SIGTERM held until the program is somewhere it can stop.

Python raises a signal's exception wherever the main thread happens to be:
in the middle of torch.save (whose C++ writer turns it into a RuntimeError
that looks like a full disk), or inside a library's import (matplotlib's
first import catches Exception around one of its own, and an interrupt
raised there came out as one and was lost). `HeldSignals` notes the signal
instead and raises it where the caller chooses:

    interrupts_deferred()    a block (a file's write): held to its end
    HeldSignals(True)        training's epochs: held to the next safe point
                             (a batch's end, an epoch's start); a second
                             Ctrl-C stops at once

Only Python handlers are held (an ignored signal stays ignored), and only in
the main thread, the one Python runs them in.
"""

import contextlib
import signal
import threading


class HeldSignals:
    """SIGINT's and SIGTERM's Python handlers replaced by a note of the
    signal; `take` raises the first noted one through its own handler.
    `secondAtOnce`: a second signal before then is not held."""

    def __init__(self, secondAtOnce):
        self.secondAtOnce, self.previous, self.pending = secondAtOnce, {}, None

    def hold(self):
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(number)
            if callable(handler) and handler != self._note:
                self.previous[number] = handler
                signal.signal(number, self._note)

    def _note(self, signum, frame):
        if self.pending is None:
            self.pending = (signum, frame)
        elif self.secondAtOnce:               # asked twice: now
            self.pending = None
            self.previous[signum](signum, frame)

    def take(self):
        """Raise the noted signal here, as its handler would have."""
        if self.pending is not None:
            (signum, frame), self.pending = self.pending, None
            self.previous[signum](signum, frame)

    def release(self, take):
        """The handlers back; then, with `take`, the noted signal raised
        (without, forgotten)."""
        previous, pending = self.previous, self.pending
        for number, handler in previous.items():
            signal.signal(number, handler)
        self.previous, self.pending = {}, None
        if take and pending is not None:
            previous[pending[0]](*pending)


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C and SIGTERM wait until the block is done, then take effect:
    a file written in the block is finished (or not started) and the
    interrupt then arrives as itself."""
    held = HeldSignals(secondAtOnce=False)
    held.hold()
    try:
        yield
    finally:
        held.release(take=True)
