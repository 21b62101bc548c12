"""How the scripts end when something goes wrong: the errors a user can fix,
shortening an exception's text to one line, and the one translator from an
error to its message and exit status that all three scripts use.

    UserError        "[ERROR] message" on standard error, exit status 1
    UsageError       argparse's usage line and "error: message", status 2
    KeyboardInterrupt a line saying what was kept, status 130
    Terminated       the same for SIGTERM, status 143
    anything else    left alone: a bug shows its traceback
"""

import functools
import os
import re
import signal
import sys

SHORT = 160          # characters of an exception's text quoted in a message

# what must not reach a terminal, a page or a card from a file (a class name,
# a folder's name): the control characters (C0, DEL, C1), which can move the
# cursor, retitle the terminal or forge a line; the format characters
# (Unicode's category Cf: the bidirectional marks and overrides, which turn
# the text around, the soft hyphen, the zero-width space and joiners, the
# byte-order mark, the tag characters), which show as nothing or turn the
# text around; the line and paragraph separators (Zl, Zp: U+2028, U+2029),
# which break a line; and the lone surrogates (a name's byte that is not
# UTF-8, as Python decodes it: \xff is U+DCFF), which no terminal, page or
# file can encode. As a regular expression's character class (Python's,
# which jsonschema uses for exported.PRINTABLE_NAME's pattern); Cf as of
# Unicode 15.1 (test_export checks it against this Python's unicodedata)
UNPRINTABLE = ("\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f"
               "\\u0890-\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064"
               "\\u2066-\\u206f\\ud800-\\udfff\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd"
               "\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a"
               "\\U000e0001\\U000e0020-\\U000e007f")
_UNPRINTABLE = re.compile(f"[{UNPRINTABLE}]")

INTERRUPTED = ("interrupted; every file written so far is whole, the one in progress "
               "was not written")


class UserError(Exception):
    """A problem with a file, a folder or an option that the user can fix;
    the message names the thing and says what to do."""


class UsageError(UserError):
    """A bad option, found after argparse's own checks; `exit_for` turns it
    into argparse's usage error (exit status 2). The message starts as
    argparse's do: "argument --name: ..."."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a job scheduler's end of time), stopped as Ctrl-C
    stops: the run marks itself and says what it kept."""


def raise_terminated(signum, frame):
    """A SIGTERM handler: Terminated where the program is."""
    raise Terminated()


def shorten(error, limit=SHORT):
    """An exception's text (or any text) on one line, at most `limit`
    characters (cut ones end in "..."); the type's name when it has none."""
    if isinstance(error, BaseException):
        text = " ".join(str(error).split()) or type(error).__name__
    else:
        text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def printable(text):
    """`text` (a name a file or a request gave) as it may be shown: every
    character of UNPRINTABLE as its escape (ESC as \\x1b, U+202E as
    \\u202e, a lone surrogate as \\udcff), the rest as it is."""
    return _UNPRINTABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), str(text))


def warn(lines):
    """Print a warning block to stderr that nobody can miss."""
    rule = "[WARNING] " + "*" * 66
    print("\n".join([rule] + ["[WARNING] " + line for line in lines] + [rule]),
          file=sys.stderr, flush=True)


def exit_for(error, parser=None, interrupted=INTERRUPTED):
    """The SystemExit that ends a script on `error`, having printed its one
    line, or None when the error is not the user's (a bug, or a SystemExit
    already): the caller re-raises it. `parser` prints a UsageError's usage
    line; `interrupted` is what Ctrl-C says was kept (None: nothing said)."""
    if isinstance(error, KeyboardInterrupt):
        if interrupted is not None:
            print(f"\n[INFO] {interrupted}", file=sys.stderr, flush=True)
        return SystemExit(143 if isinstance(error, Terminated) else 130)
    if isinstance(error, UsageError):
        if parser is not None:
            try:
                parser.error(str(error))       # prints the usage line; exit status 2
            except SystemExit as e:
                return e
        print(f"error: {error}", file=sys.stderr, flush=True)
        return SystemExit(2)
    if isinstance(error, UserError):
        return SystemExit(f"[ERROR] {error}")
    return None


def one_line_errors(main):
    """Decorate a script's main(): the errors `exit_for` knows end the
    script in one line, never a traceback. A UsageError prints no usage
    line here (the scripts call ap.error themselves where they have it)."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (UserError, KeyboardInterrupt) as e:
            raise exit_for(e) from None
    return wrapper


def _exit_terminated(signum, frame):
    """SIGTERM outside a run's own handling: the end, with SIGTERM's status."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(143)


def as_script(main, handler=_exit_terminated):
    """Run a script's main() as the whole process and return its status (for
    sys.exit). Where SIGTERM would kill the process outright (its default),
    `handler` takes it instead: by default the end with status 143, as
    every stop by SIGTERM ends here, before the script installs its own
    handling and after it gives it back; `raise_terminated` for a script
    whose main() turns it into its one line (one_line_errors). Once main()
    has returned (every file written, the final line said), SIGTERM is
    ignored while Python shuts down, which it could not stop otherwise
    (Python gives a handler back to the default as it finalizes)."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)
    try:
        return main()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
