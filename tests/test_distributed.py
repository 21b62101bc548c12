"""torchrun: two processes with gloo on the CPU train one model."""

import json
import re
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, load, make_idx_folder, train

pytestmark = pytest.mark.slow         # every test here starts several processes


def job_env(folder):
    """torchrun's environment; its scratch folders (torchelastic_*) go under
    the test's own folder, not /tmp, so that they go with it."""
    scratch = os.path.join(folder, "scratch")
    os.makedirs(scratch, exist_ok=True)
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", TMPDIR=scratch)


def torchrun(output, data, *extra, nproc=2, timeout=300):
    env = job_env(os.path.dirname(output))
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc-per-node={nproc}", "dcgan_mnist.py", "--output", str(output),
         "--data-dir", str(data), "--no-progress", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """Two processes, 2 epochs on a tiny folder, logged for TensorBoard:
    (data, output, result)."""
    root = tmp_path_factory.mktemp("ddp")
    data = make_idx_folder(root / "data")
    result = torchrun(root / "ddp", data, "-e", "2", "-b", "16", "--tensorboard")
    return data, root / "ddp", result


def test_two_processes_train_one_model(two_process_run):
    _, out, result = two_process_run
    assert result.returncode == 0, result.stderr[-3000:]
    # one log: each [INFO] line once, from the first process only
    assert result.stdout.count("[INFO] starting epoch 1 of 2...") == 1
    assert result.stdout.count("[INFO] Generator Loss:") == 2
    assert "2 processes (gloo), batch 16 each" in result.stdout

    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2 and run["distributed_backend"] == "gloo"
    assert run["replicas_identical"] is True          # checked across the processes
    assert sorted(p.name for p in out.glob("epoch_*.png")) == ["epoch_0002.png"]
    # 96 images, 2 processes x 16 a batch: 3 steps an epoch, each logged once
    history = (out / "history.csv").read_text().splitlines()[1:]
    assert len(history) == 2 * 3
    saved = load(out / "checkpoint.pt")
    assert len(saved["rng"]) == 2
    # every process drew its own noise: the two streams differ
    assert not torch.equal(saved["rng"][0]["noise"], saved["rng"][1]["noise"])
    # TensorBoard: one event file, the first process's, with history.csv's steps and values
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert len(list((out / "tensorboard").iterdir())) == 1
    reader = EventAccumulator(str(out / "tensorboard"))
    reader.Reload()
    logged = [(e.step, e.value) for e in reader.Scalars("loss/generator")]
    assert [step for step, _ in logged] == list(range(6))
    assert [v for _, v in logged] == pytest.approx([float(r.split(",")[2]) for r in history],
                                                   abs=1e-5)


def test_resume_under_torchrun_is_exact(tmp_path, two_process_run):
    tiny_data, whole, uninterrupted = two_process_run
    parts = tmp_path / "parts"
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    first = torchrun(parts, tiny_data, "-e", "2", "-b", "16", "--stop-after", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    # the line says how to go on: under torchrun, with as many processes
    assert (f"continue with: torchrun --standalone --nproc-per-node=2 dcgan_mnist.py --output "
            f"{parts} --resume") in first.stdout
    second = torchrun(parts, tiny_data, "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    a, b = load(whole / "checkpoint.pt"), load(parts / "checkpoint.pt")
    for net in ("generator", "discriminator"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
    # and a single process may not take the run over: its batches would differ
    single = train(parts, tiny_data, "--resume", "-e", "3")
    assert single.returncode == 1 and "2 processes" in single.stderr


def test_a_failed_process_takes_the_job_down(tmp_path):
    data = make_idx_folder(tmp_path / "data", train=2000, test=0)
    env = job_env(tmp_path)
    job = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "dcgan_mnist.py", "--output", str(tmp_path / "o"), "--data-dir", str(data),
         "--no-progress", "-e", "1000", "-b", "16"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "o" / "checkpoint.pt").exists():      # training is under way
            assert job.poll() is None and time.time() < deadline
            time.sleep(0.1)
        worker = _worker_pid(job.pid, rank=1)
        os.kill(worker, signal.SIGKILL)
        _, stderr = job.communicate(timeout=120)        # not a hang: the job ends
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    # torchrun's report names the process that failed first, and how
    cause = stderr.split("Root Cause")[-1]
    assert re.search(r"rank\s*:\s*1\b", cause) and "SIGKILL" in cause


@pytest.mark.parametrize("launcher", ["torch.distributed.run", "pyimagesearch.torchrun"])
def test_sigterm_to_torchrun_ends_the_run_as_interrupted_in_its_own_words(tmp_path, launcher):
    data = make_idx_folder(tmp_path / "data", train=2000, test=0)
    job = subprocess.Popen(
        [sys.executable, "-m", launcher, "--standalone", "--nproc-per-node=2",
         "dcgan_mnist.py", "--output", str(tmp_path / "o"), "--data-dir", str(data),
         "--no-progress", "-e", "1000", "-b", "16"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=job_env(tmp_path))
    try:
        deadline = time.time() + 120
        while not (tmp_path / "o" / "checkpoint.pt").exists():      # training is under way
            assert job.poll() is None and time.time() < deadline
            time.sleep(0.1)
        job.send_signal(signal.SIGTERM)                 # to torchrun: its agent tells the workers
        stdout, stderr = job.communicate(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    said = [line for line in stderr.splitlines() if "interrupted" in line and "[INFO]" in line]
    assert len(said) == 1, stderr               # the first process says it, the other nothing
    command = "torchrun" if launcher == "torch.distributed.run" else "python -m " + launcher
    assert re.search(r"interrupted (during|after) epoch \d+(, its files saved)?; .*checkpoint.pt holds \d+ epochs?: continue "
                     rf"with: {command} --standalone --nproc-per-node=2 dcgan_mnist.py --output "
                     rf".* --resume$", said[0]), said[0]
    assert json.loads((tmp_path / "o" / "run.json").read_text())["status"] == "interrupted"
    if launcher == "pyimagesearch.torchrun":         # the agent's traceback said in one line
        assert "Traceback" not in stderr and job.returncode == 128 + signal.SIGTERM
        assert stderr.rstrip().splitlines()[-1] == (
            "[INFO] torchrun was stopped by SIGTERM and told every process to stop; the run's "
            "own line above says what was kept and how to continue (none, if it was stopped before "
            "the run began)")


def _worker_pid(parent, rank):
    """The pid of torchrun's worker process of the given rank."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == parent and f"RANK={rank}".encode() in env:
            return int(pid)
    raise AssertionError(f"no worker of rank {rank} under {parent}")


def test_a_recipe_under_torchrun_keeps_the_replicas_identical_and_resumes(tmp_path):
    """Each process augments with its own stream; the averaged gradients
    keep one model, and a resumed job continues every stream."""
    data = make_idx_folder(tmp_path / "data")
    recipe = ["-b", "16", "-e", "2", "--cr", "1", "--diffaug", "translation,cutout",
              "--top-k", "0.5"]
    whole = torchrun(tmp_path / "whole", data, *recipe)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["replicas_identical"] is True
    saved = load(tmp_path / "whole" / "checkpoint.pt")
    assert not torch.equal(saved["rng"][0]["augment"], saved["rng"][1]["augment"])
    assert torchrun(tmp_path / "parts", data, *recipe, "--stop-after", "1").returncode == 0
    assert torchrun(tmp_path / "parts", data, "--resume").returncode == 0
    a, b = load(tmp_path / "whole" / "generator.pth"), load(tmp_path / "parts" / "generator.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


LEAVES_THE_GROUP = """
import os, sys
import torch
from pyimagesearch.training import distributed
ctx = distributed.from_environment()
distributed.setup(ctx, torch.device("cpu"))
torch.optim.Adam([torch.nn.Parameter(torch.ones(1))])   # imports torch._dynamo, as the script's do
distributed.gather("digest", ctx)
distributed.barrier(ctx)
distributed.cleanup(ctx)
with open(os.path.join(sys.argv[1], f"threads-{ctx.rank}"), "w") as f:
    f.write(" ".join(sorted(open(f"/proc/self/task/{t}/comm").read().strip()
                            for t in os.listdir("/proc/self/task"))))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads the threads in /proc")
def test_leaving_the_group_ends_its_threads(tmp_path):
    """After cleanup no gloo thread is left: one still holding a finished
    collective when the interpreter shuts down aborts the process (SIGABRT,
    once in some 350 runs before the fix), which torchrun reports as a
    failed job."""
    program = tmp_path / "leave.py"
    program.write_text(LEAVES_THE_GROUP)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(program), str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(job_env(tmp_path), PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-3000:]
    # each process's threads after cleanup: the main one alone
    assert [(tmp_path / f"threads-{rank}").read_text() for rank in (0, 1)] == ["python"] * 2


def test_the_continue_line_names_the_command_that_started_the_job():
    from types import SimpleNamespace
    from pyimagesearch.training.distributed import launcher
    two = SimpleNamespace(enabled=True, worldSize=2)
    assert launcher(None) == launcher(SimpleNamespace(enabled=False)) == "python"
    assert launcher(two, {"LOCAL_WORLD_SIZE": "2"}) == "torchrun --standalone --nproc-per-node=2"
    assert launcher(two, {"LOCAL_WORLD_SIZE": "2", "DCGAN_LAUNCHER": "python -m pyimagesearch.torchrun"}) \
        == "python -m pyimagesearch.torchrun --standalone --nproc-per-node=2"
    assert launcher(two, {"LOCAL_WORLD_SIZE": "1", "DCGAN_LAUNCHER": "rm -rf /"}) == \
        "torchrun (with its options as before: 2 processes)"     # only the project's own words


@pytest.mark.parametrize("body, status, how", [
    ("import sys; sys.exit(3)", 3, "ended with exit status 3"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9, "was killed by SIGKILL")])
def test_a_failed_process_under_the_launcher_is_one_line_not_a_traceback(tmp_path, body, status,
                                                                         how):
    script = tmp_path / "fails\x1b[2J.py"           # (its name printed, escaped)
    script.write_text(body + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pyimagesearch.torchrun", "--standalone", "--nproc-per-node=1",
         str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=job_env(tmp_path))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"[ERROR] {tmp_path}/fails\\x1b[2J.py's process 0 {how}, so torchrun stopped the "
        "others; the lines above say why")


def test_a_signal_the_processes_do_not_catch_is_not_said_to_have_a_line_above(tmp_path):
    # SIGHUP (a closed terminal) is passed on by torchrun's agent and ends the
    # processes outright: no "interrupted" line of theirs to point to
    script = tmp_path / "waits.py"
    script.write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    job = subprocess.Popen(
        [sys.executable, "-m", "pyimagesearch.torchrun", "--standalone", "--nproc-per-node=1",
         str(script)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=job_env(tmp_path))
    try:
        assert job.stdout.readline().strip() == "ready"
        job.send_signal(signal.SIGHUP)
        _, stderr = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 128 + signal.SIGHUP and "Traceback" not in stderr
    last = stderr.rstrip().splitlines()[-1]
    assert last.startswith("[INFO] torchrun was stopped by SIGHUP and passed it on to every "
                           "process") and "line above" not in last, last
