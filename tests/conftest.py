"""Shared helpers: tiny IDX data sets made on the spot, and running the
scripts as a user would."""

import contextlib
import gzip
import hashlib
import importlib
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic 0x0000 08 ndim, sizes, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def write_idx(path, array):
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


def digit_images(n, seed=0):
    """n 28x28 uint8 images that look a little like strokes: a bright
    rectangle at a class-dependent place on black, plus noise. Labels 0-9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        top, left = 4 + (label // 5) * 10, 4 + (label % 5) * 4
        images[i, top:top + 10, left:left + 6] = 255
    images = np.clip(images + rng.integers(0, 40, images.shape), 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


def make_idx_folder(folder, train=64, test=32, gz=True, layout="flat", seed=0):
    """A tiny MNIST-format data set: flat (DIR/*-ubyte[.gz]) or in
    torchvision's layout (DIR/MNIST/raw/...). A split of size 0 is left out."""
    target = folder if layout == "flat" else folder / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, count, offset in (("train", train, 0), ("t10k", test, 1)):
        if not count:
            continue
        images, labels = digit_images(count, seed=seed + offset)
        write_idx(target / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(target / f"{split}-labels-idx1-ubyte{suffix}", labels)
    return folder


@pytest.fixture(scope="session", autouse=True)
def cache_in_a_scratch_folder(tmp_path_factory):
    """The evaluator's and the folder decoder's caches go to a folder of
    the test session, never to the user's ~/.cache (a test that wants its
    own sets DCGAN_CACHE itself)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DCGAN_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def tiny_data(tmp_path):
    """A flat folder of 64 training and 32 test images, gzipped."""
    return make_idx_folder(tmp_path / "data")


def run_script(*args, timeout=300, env=None, subprocess_=False):
    """Run a top-level script (`name.py`, arguments...) from the repository
    root, as a user would. By default its main() is called in this process
    with stdout and stderr captured and SystemExit turned into a return
    code, which saves the 3-4 s a new Python spends importing torch;
    subprocess_=True runs a real `python name.py ...` process."""
    if subprocess_:
        fullEnv = dict(os.environ, PYTHONUNBUFFERED="1")
        fullEnv.update(env or {})
        return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout,
                              env=fullEnv)
    assert not env, "environment changes need subprocess_=True"
    module = importlib.import_module(args[0].removesuffix(".py"))
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = module.main([str(a) for a in args[1:]]) or 0
            except SystemExit as e:                     # as the interpreter does
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:
                    print(e.code, file=sys.stderr)
                    code = 1
    finally:
        os.chdir(cwd)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def train(output, data, *extra, **kwargs):
    """dcgan_mnist.py on a tiny folder, quickly."""
    return run_script("dcgan_mnist.py", "--output", output, "--data-dir", data,
                      "--no-progress", *extra, **kwargs)


def default_signals():
    """For a child process: SIGINT's default handler, whatever this process
    inherited (a background job or nohup ignores SIGINT, and so would every
    child, which would then never see the Ctrl-C a test sends)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(out, data, *extra, script=("dcgan_mnist.py",)):
    """dcgan_mnist.py (or `script`) on a tiny folder as a background process
    (with faulthandler: a crash prints where each thread was)."""
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", *script, "-o", str(out), "--data-dir", str(data), "--no-progress",
         "-b", "16", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals)


def wait_for(path, proc, timeout=120):
    """Until `path` exists; fails if `proc` ends first or it takes too long."""
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def one_line(stderr):
    """The one non-blank line of a refusal's stderr (no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


def usage_error(result, option, said):
    """`result` is argparse's usage error naming `option` and saying `said`:
    exit status 2, the usage line, then "error: argument OPTION: ...SAID"."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.split("error: ", 1)[-1].startswith(f"argument {option}"), result.stderr
    assert said in last, result.stderr


def load(path):
    """A .pt or .pth file, tensors only."""
    return torch.load(path, weights_only=True)


def snapshot(folder):
    """{name: sha256} of every file in a folder: to show nothing changed."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """The evaluator's and the folder decoder's cache in this test's own folder."""
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA: skipped, not failed, without it."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
