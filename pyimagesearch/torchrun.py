"""torchrun, ending in the project's words when it is stopped.

    python -m pyimagesearch.torchrun --standalone --nproc-per-node=2 dcgan_mnist.py --output out

takes torchrun's options and does what torchrun does (it calls torchrun's
own `main`). The one difference: stopped by a signal (Ctrl-C, `kill -TERM`),
torchrun's elastic agent tells every process to stop, waits for them, and
then raises `SignalException`, whose 30-line traceback is the last thing
plain torchrun prints. Here that exception is said in one line instead,
after the processes' own "interrupted during epoch N ... continue with"
line, and the exit status is a signal's (128 + its number), as a shell
expects. A run started this way gives this command in its "continue with"
lines (DCGAN_LAUNCHER, set here, tells it so). docs/torchrun.md.
"""

import os
import signal
import sys

from .errors import printable

LAUNCHER_VARIABLE = "DCGAN_LAUNCHER"
COMMAND = "python -m pyimagesearch.torchrun"
# the signals a run stops at in its own words (pyimagesearch/training/process.py)
CAUGHT = (signal.SIGINT, signal.SIGTERM)


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def main(argv=None):
    from torch.distributed.elastic.multiprocessing.api import SignalException  # (here: the
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # training
    from torch.distributed.run import main as torchrun_main   # imports only the names)

    os.environ[LAUNCHER_VARIABLE] = COMMAND          # inherited by every process it starts
    sys.argv[0] = COMMAND                            # (its usage line's name)
    try:
        torchrun_main(sys.argv[1:] if argv is None else argv)
    except SignalException as stopped:
        if stopped.sigval in CAUGHT:
            print(f"[INFO] torchrun was stopped by {signal_name(stopped.sigval)} and told every "
                  "process to stop; the run's own line above says what was kept and how to "
                  "continue (none, if it was stopped before the run began)",
                  file=sys.stderr, flush=True)
        else:                      # (SIGHUP, SIGQUIT: passed on, they end the processes at once)
            print(f"[INFO] torchrun was stopped by {signal_name(stopped.sigval)} and passed it "
                  "on to every process, which ends them where they are, without a line of "
                  "their own (run.json still says \"running\"); --resume continues from the "
                  "last epoch their checkpoint.pt holds", file=sys.stderr, flush=True)
        return 128 + int(stopped.sigval)
    except ChildFailedError as failed:        # a process failed or was killed: torchrun
        rank, failure = failed.get_first_failure()          # stopped the others
        how = (f"was killed by {signal_name(-failure.exitcode)}" if failure.exitcode < 0
               else f"ended with exit status {failure.exitcode}")
        print(f"[ERROR] {printable(failed.name)}'s process {rank} {how}, so torchrun stopped the "
              "others; the lines above say why", file=sys.stderr, flush=True)
        return failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode
    except KeyboardInterrupt:                 # a second Ctrl-C while the processes stop
        print("[INFO] torchrun was interrupted while its processes were stopping; the run's "
              "own line above says what was kept", file=sys.stderr, flush=True)
        return 128 + signal.SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
