"""The one kind of error a user can fix: the scripts print its message on
one line and exit with status 1, without a traceback."""

import functools
import sys


class UserError(Exception):
    """A problem with a file, a folder or an option that the user can fix;
    the message names the thing and says what to do."""


def one_line_errors(main):
    """Decorate a script's main(): a UserError becomes "[ERROR] message" on
    standard error and exit status 1, Ctrl-C a line and status 130; never a
    traceback for either."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as e:
            raise SystemExit(f"[ERROR] {e}") from None
        except KeyboardInterrupt:
            print("\n[INFO] interrupted; every file written so far is whole, the one in "
                  "progress was not written", file=sys.stderr, flush=True)
            raise SystemExit(130) from None
    return wrapper
