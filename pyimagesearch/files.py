"""Writing files whole or not at all, and one writer per output folder.

Every file the scripts write goes through `write_atomic`: the content goes
to a hidden temporary file in the same folder, is flushed to the disk, and
is then renamed over the target. A crash, a kill or a full disk leaves the
old file or the new one, never a torn one. A failure becomes a WriteError
that names the file and the cause in words ("the disk is full").

`FolderLock` keeps two runs from writing into one folder at once: an
advisory lock (flock) on the folder itself, which the kernel releases when
the process ends, however it ends.
"""

import atexit
import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile

import torch

from .errors import UserError, shorten
from .interrupts import interrupts_deferred

TMP_SUFFIX = ".tmp"


class WriteError(UserError):
    """A file that could not be written; the message names it and the cause."""


class FolderBusy(UserError):
    """Another process holds the output folder."""


def cause(error, folder):
    """The reason a write failed, in words."""
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC:
            return "the disk is full"
        if error.errno == errno.EROFS:
            return "the file system is read-only"
        if error.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if error.errno == errno.EISDIR:
            return "a folder of that name is in the way"
        if error.errno == errno.EDQUOT:
            return "the disk quota is exceeded"
        return error.strerror or str(error)
    # torch.save's C++ writer raises RuntimeError, not OSError, when the disk
    # fills up ("[enforce fail at inline_container.cc] ... unexpected pos")
    text = shorten(error)
    try:
        full = os.statvfs(folder).f_bavail == 0
    except OSError:
        full = False
    if full or "unexpected pos" in text or "file write failed" in text:
        return "the disk is full (the write stopped short)"
    return text


def write_atomic(path, write):
    """Write a file whole or not at all: `write(f)` fills a binary file
    object; only when it has returned, and the bytes are on the disk, does
    the file appear under `path`. Raises WriteError in words. Ctrl-C during
    the write takes effect once it is done (interrupts_deferred)."""
    with interrupts_deferred():
        _write_atomic(path, write)


def _write_atomic(path, write):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                                   suffix=TMP_SUFFIX)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {cause(e, folder)}") from None
    try:
        umask = os.umask(0)       # mkstemp makes the file private (0600): give
        os.umask(umask)           # it the mode any other new file would get
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, (OSError, RuntimeError)):
            raise WriteError(f"cannot write {path}: {cause(e, folder)}") from None
        raise


# what write_atomic's temporary name adds to the target's: "." before, "."
# + mkstemp's 8 characters + TMP_SUFFIX after
TEMPORARY_EXTRA = 1 + 1 + 8 + len(TMP_SUFFIX)


def name_problem(path, folder=False):
    """Why `path` cannot be written by write_atomic (folder=True: made to
    hold such files), in words, or None: every part of its name within the
    longest the file system allows (255 bytes on most), a file's own with
    room for its temporary name, and the whole path within the longest path.
    A too-long name fails only at the write: this is asked before any."""
    path = os.path.abspath(os.fspath(path))
    existing = path
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    try:
        longest = os.pathconf(existing, "PC_NAME_MAX")
        longestPath = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):     # no pathconf (Windows): Linux's limits
        longest, longestPath = 255, 4096
    parts = [part for part in path.split(os.sep) if part]
    for i, part in enumerate(parts):
        allowed = longest - (TEMPORARY_EXTRA if i == len(parts) - 1 and not folder else 0)
        size = len(os.fsencode(part))
        if size > allowed:
            shown = part if len(part) <= 24 else part[:21] + "..."
            return (f"the name {shown} is {size} bytes long; this file system allows "
                    f"{allowed}: choose a shorter one")
    # a folder's files add their own names (digit_0000_class_12.png: 64 bytes is room)
    if len(os.fsencode(path)) + (64 if folder else TEMPORARY_EXTRA) >= longestPath:
        return (f"the path is {len(os.fsencode(path)):,} bytes long; this file system allows "
                f"{longestPath:,}: choose a shorter one")
    return None


def replaced(path):
    """What the line after a write of `path` adds when a file was there:
    every output a user names is replaced, and the line says so."""
    return " (replaced the file that was there)" if os.path.lexists(path) else ""


def replaced_in(folder, names, kin, kind):
    """What the line after writing the files `names` into `folder` adds:
    which of them were there (replaced), the first and the last named, and
    how many other files whose name the regular expression `kin` matches
    (an earlier command's; `kind` says them, e.g. "digit_*.png") are left
    as they were."""
    try:
        there = set(os.listdir(folder))
    except OSError:                     # not made yet: nothing there
        return ""
    ours = [name for name in names if name in there]
    older = [name for name in there - set(names) if kin.fullmatch(name)]
    said = []
    if ours:
        shown = ours if len(ours) <= 3 else [ours[0], ours[1], "...", ours[-1]]
        said.append(f"replaced {len(ours):,} file{'s' * (len(ours) > 1)} that "
                    f"{'were' if len(ours) > 1 else 'was'} there: {', '.join(shown)}")
    if older:
        said.append(f"{len(older):,} older {kind} {'are' if len(older) > 1 else 'is'} left "
                    f"there as {'they were' if len(older) > 1 else 'it was'}")
    return f" ({'; '.join(said)})" if said else ""


def write_bytes(path, data):
    write_atomic(path, lambda f: f.write(data))


def write_json(path, obj):
    """`obj` as indented JSON."""
    write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def save_torch(path, obj):
    """torch.save, whole or not at all."""
    write_atomic(path, lambda f: torch.save(obj, f))


def write_image(path, image):
    """An image array (H, W) or (H, W, 3) as PNG (or whatever the name's
    extension says), with zlib's best compression for PNG."""
    import cv2      # OpenCV takes a while to import: only the scripts that write images pay

    extension = os.path.splitext(os.fspath(path))[1].lower() or ".png"
    params = [cv2.IMWRITE_PNG_COMPRESSION, 9] if extension == ".png" else []
    try:
        ok, encoded = cv2.imencode(extension, image, params)
    except cv2.error as e:
        raise WriteError(f"cannot write {path}: OpenCV cannot encode it ({shorten(e, 120)})") from None
    if not ok:
        raise WriteError(f"cannot write {path}: OpenCV cannot encode {extension} images")
    write_bytes(path, encoded.tobytes())


def write_gif(path, frames, duration=500):
    """Frames (H, W) grey or (H, W, 3) RGB uint8 as a looping GIF, `duration`
    ms each (colour frames reduced to a 256-colour palette each, as GIF
    holds no more)."""
    from PIL import Image   # imported when first used, like cv2 above

    if not frames:
        raise ValueError("no frames to animate")
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration, loop=0, optimize=True)
    write_bytes(path, buffer.getvalue())


def save_figure(path, figure):
    """A matplotlib figure as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())


# the cache folders that could not be written, each with the temporary
# folder this process caches in instead (said once, on stderr)
_CACHE_FALLBACKS = {}


def cache_dir():
    """Where trained evaluators and decoded image folders are kept:
    $DCGAN_CACHE, else $XDG_CACHE_HOME/dcgan-companion, else
    ~/.cache/dcgan-companion. Where that folder cannot be made or written
    (a read-only home, a home that does not exist), a private temporary
    folder for this process instead, said once: the work is redone next
    time, nothing fails."""
    if os.environ.get("DCGAN_CACHE"):
        preferred = os.environ["DCGAN_CACHE"]
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        preferred = os.path.join(base, "dcgan-companion")
    if preferred in _CACHE_FALLBACKS:
        return _CACHE_FALLBACKS[preferred]
    try:
        os.makedirs(preferred, exist_ok=True)
        if os.access(preferred, os.W_OK | os.X_OK):
            return preferred
        why = "not writable"
    except OSError as e:
        why = e.strerror or type(e).__name__
    fallback = tempfile.mkdtemp(prefix="dcgan-companion-")        # ours alone (mode 700)
    atexit.register(shutil.rmtree, fallback, ignore_errors=True)
    _CACHE_FALLBACKS[preferred] = fallback
    print(f"[INFO] the cache folder {shorten(preferred, 120)} cannot be used ({why}): trained "
          f"evaluators and decoded images are kept in {fallback} for this run only (set "
          "DCGAN_CACHE to a writable folder to keep them)", file=sys.stderr, flush=True)
    return fallback


def shared_path(path):
    """`path` as a record shared with others may show it (a notebook's
    output, a file committed): relative to the working folder when inside
    it, else with the home folder as ~; other paths as they are."""
    full = os.path.abspath(path)
    here, home = os.getcwd(), os.path.expanduser("~")
    if here != "/" and os.path.commonpath([full, here]) == here:
        return os.path.relpath(full, here)
    if home not in ("", "/") and os.path.commonpath([full, home]) == home:
        return os.path.join("~", os.path.relpath(full, home))
    return os.fspath(path)


# write_atomic's temporary files: "." + the target's name + "." + mkstemp's
# 8 random characters + TMP_SUFFIX
TEMPORARY = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}" + re.escape(TMP_SUFFIX))


def remove_leftovers(folder, isOurs):
    """Delete the temporary files of saves that were killed before they
    finished: only files named as write_atomic names them, for a target
    `isOurs(name)` says the caller writes there. Anything else, however it
    is named (a user's ".notes.tmp"), is left alone. Returns their names."""
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = TEMPORARY.fullmatch(entry)
        path = os.path.join(folder, entry)
        if match and isOurs(match["target"]) and os.path.isfile(path) \
                and not os.path.islink(path):
            try:
                os.remove(path)
                removed.append(entry)
            except OSError:
                pass
    return sorted(removed)


# ------------------------------------------------------------------ the lock

def _holder(folder):
    """Who holds the flock on `folder`, in words (Linux: /proc/locks)."""
    try:
        st = os.stat(folder)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return "another process"
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            pid, (_, _, inode) = int(parts[4]), parts[5].split(":")
        except ValueError:
            continue
        if int(inode) == st.st_ino:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = ""
            return f"process {pid}" + (f" ({command})" if command else "")
    return "another process"


class FolderLock:
    """An exclusive advisory lock on a folder, held until `release` or the
    end of the process. Where the system has no flock (Windows), nothing is
    locked."""

    def __init__(self, folder):
        self.folder, self.fd = os.fspath(folder), None

    def acquire(self):
        """Raises FolderBusy, naming the holder, when another process has it."""
        try:
            import fcntl      # POSIX only: on Windows nothing is locked
        except ImportError:
            return self
        if self.fd is not None:
            return self
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FolderBusy(f"{self.folder} is in use by {_holder(self.folder)}: "
                                 "one run per output folder at a time (wait for it to end, "
                                 "or choose another --output)") from None
            return self           # a file system without locks: go on unlocked
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)     # closing the descriptor drops the flock
            self.fd = None


def sha256_of(path):
    """The SHA-256 of a file's bytes, as `sha256sum` prints it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
