"""Run a script with one of its file writes stalled halfway, to kill it there.

    python tests/slow_writer.py PATTERN NTH MARKER SCRIPT.py ARGS...

The NTH write (1-based) of a file whose name matches PATTERN (fnmatch)
writes half its bytes, flushes them to the disk, creates MARKER and then
sleeps, so a test can SIGKILL the process in the middle of that write.
"""

import fnmatch
import io
import os
import runpy
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyimagesearch import files  # noqa: E402


def main():
    pattern, nth, marker, script, *args = sys.argv[1:]
    real = files.write_atomic
    seen = []

    def stalled(path, write):
        if not fnmatch.fnmatch(os.path.basename(os.fspath(path)), pattern):
            return real(path, write)
        seen.append(path)
        if len(seen) != int(nth):
            return real(path, write)

        def half_then_wait(f):
            buffer = io.BytesIO()
            write(buffer)
            data = buffer.getvalue()
            f.write(data[:len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            with open(marker, "w"):
                pass
            time.sleep(600)

        return real(path, half_then_wait)

    files.write_atomic = stalled
    sys.argv = [script, *args]
    runpy.run_path(os.path.join(ROOT, script), run_name="__main__")


if __name__ == "__main__":
    main()
