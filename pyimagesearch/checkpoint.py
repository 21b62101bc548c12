"""Files that must never be left half-written: run.json, weights, checkpoints.

Everything is written to a temporary file in the same folder and then
renamed over the target, so a crash or a kill leaves the old file or the new
one, never a torn one.
"""

import json
import os
import tempfile

import torch


def _atomic(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path),
                               suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the usual mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    """Write `obj` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    _atomic(path, lambda f: f.write(text.encode()))


def save(obj, path):
    """torch.save, atomically."""
    _atomic(path, lambda f: torch.save(obj, f))
