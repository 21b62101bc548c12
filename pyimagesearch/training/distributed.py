"""Several processes, GPUs or machines, with PyTorch's own torch.distributed.

`torchrun` starts the processes and sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT; without it (or with a single process) nothing
here does anything and the script is the plain single-process one.

Data parallel training: every process holds a replica of G and D, all start
from the same weights (same seed), each trains on its share of every batch,
and before every optimizer step the gradients are averaged over the
processes (`average_gradients`), so the replicas take identical steps.
"""

import datetime
import hashlib
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import UserError, shorten
from ..torchrun import COMMAND as LAUNCHER, LAUNCHER_VARIABLE

# how long a process waits in a collective for the others before it gives up
# with an error (instead of hanging forever on a peer that is stuck); long
# enough for rank 0's evaluations and checkpoints
TIMEOUT = datetime.timedelta(minutes=30)
# how long processes started by hand (WORLD_SIZE without torchrun) wait to meet
JOIN_TIMEOUT = datetime.timedelta(seconds=120)


@dataclass
class Context:
    rank: int = 0
    worldSize: int = 1
    localRank: int = 0
    backend: str = ""

    @property
    def enabled(self):
        return self.worldSize > 1

    @property
    def main(self):
        """The process that logs and writes files."""
        return self.rank == 0

    @property
    def local_main(self):
        """The first process on each machine (downloads data there)."""
        return self.localRank == 0


class DistributedError(UserError):
    """torch.distributed's environment variables do not describe a job."""


def launcher(ctx, env=None):
    """The words that start dcgan_mnist.py as this run was started: python,
    or torchrun with as many processes (a "continue with" line's)."""
    if ctx is None or not ctx.enabled:
        return "python"
    env = os.environ if env is None else env
    # python -m pyimagesearch.torchrun (which says so) or plain torchrun
    command = LAUNCHER if env.get(LAUNCHER_VARIABLE) == LAUNCHER else "torchrun"
    if env.get("LOCAL_WORLD_SIZE") == str(ctx.worldSize):   # one machine: its processes are all
        return f"{command} --standalone --nproc-per-node={ctx.worldSize}"
    return f"{command} (with its options as before: {ctx.worldSize} processes)"


def _variable(env, name, default):
    text = env.get(name, str(default))
    try:
        return int(text)
    except ValueError:
        raise DistributedError(f"the environment variable {name}={text!r} is not a whole number "
                               "(torchrun sets it; unset it to train in one process)") from None


def from_environment(env=None):
    """The Context torchrun describes in the environment (no process group
    yet); DistributedError when the variables contradict each other."""
    env = os.environ if env is None else env
    context = Context(rank=_variable(env, "RANK", 0), worldSize=_variable(env, "WORLD_SIZE", 1),
                      localRank=_variable(env, "LOCAL_RANK", 0))
    if context.worldSize < 1 or not 0 <= context.rank < context.worldSize \
            or not 0 <= context.localRank <= context.rank:
        raise DistributedError(
            f"RANK={context.rank}, LOCAL_RANK={context.localRank} and WORLD_SIZE="
            f"{context.worldSize} describe no job (0 <= LOCAL_RANK <= RANK < WORLD_SIZE); "
            "torchrun sets them: unset them to train in one process")
    return context


def setup(context, device):
    """Join the process group: nccl for CUDA, gloo for the CPU. Returns the
    device this process trains on (its own GPU under CUDA)."""
    if not context.enabled:
        return device
    if device.type == "cuda":
        if context.localRank >= torch.cuda.device_count():
            raise ValueError(f"process {context.localRank} on this machine has no GPU: "
                             f"{torch.cuda.device_count()} visible, so --nproc-per-node "
                             f"must be at most that")
        device = torch.device("cuda", context.localRank)
        torch.cuda.set_device(device)
        context.backend = "nccl"
    elif device.type == "cpu":
        context.backend = "gloo"
    else:
        raise ValueError(f"torch.distributed has no backend for {device.type}; "
                         "use --device cpu or cuda")
    _import_before_the_group()
    try:
        if "TORCHELASTIC_RUN_ID" in os.environ:         # torchrun: its agent did the rendezvous
            dist.init_process_group(context.backend, timeout=TIMEOUT)
        else:
            dist.init_process_group(context.backend, store=_join_by_hand(context),
                                    rank=context.rank, world_size=context.worldSize,
                                    timeout=TIMEOUT)
    except (ValueError, RuntimeError) as e:
        raise DistributedError(f"cannot join the torch.distributed job: {shorten(e)}") from None
    return device


def _import_before_the_group():
    """Import torch.distributed.nn.functional while no process group exists.
    Its functions take `group=group.WORLD` as a default argument, evaluated
    at import; the first optimizer imports it (through torch._dynamo), and
    imported after init_process_group those defaults would hold the group
    for good: destroy_process_group could not free it, its worker threads
    would outlive it, and one of them releasing a finished collective while
    the interpreter shuts down aborts the process ("terminate called
    without an active exception", SIGABRT: once in some 350 runs here)."""
    import torch.distributed.nn.functional  # noqa: F401 (here: only a distributed run needs it, and it must come before the group)


def _join_by_hand(context):
    """WORLD_SIZE set without torchrun: meet the other processes at
    MASTER_ADDR:MASTER_PORT, saying so, for at most JOIN_TIMEOUT (not the
    collectives' 30 minutes)."""
    address, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not address or not (port or "").isdigit():
        raise DistributedError(
            f"WORLD_SIZE={context.worldSize} is set without torchrun, and MASTER_ADDR and "
            "MASTER_PORT do not say where the processes meet; start the job with torchrun, "
            "or unset WORLD_SIZE and RANK to train in one process")
    print(f"[INFO] WORLD_SIZE={context.worldSize} without torchrun: waiting up to "
          f"{JOIN_TIMEOUT.seconds} s for the other processes at {address}:{port} (Ctrl-C "
          "stops; unset WORLD_SIZE and RANK to train in one process)", file=sys.stderr, flush=True)
    try:
        return dist.TCPStore(address, int(port), context.worldSize, context.rank == 0,
                             timeout=JOIN_TIMEOUT)
    except (RuntimeError, ValueError, OSError) as e:
        raise DistributedError(f"the {context.worldSize - 1} other processes of WORLD_SIZE="
                               f"{context.worldSize} did not come to {address}:{port} within "
                               f"{JOIN_TIMEOUT.seconds} s ({shorten(e, 80)})") from None


def barrier(context):
    if context.enabled:
        dist.barrier()


def average(tensor, context):
    """The mean of `tensor` over all processes (in place, and returned)."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= context.worldSize
    return tensor


def average_gradients(parameters, context):
    """Replace every gradient by its mean over all processes: one
    all-reduce of all of them, flattened into one buffer."""
    if not context.enabled:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= context.worldSize
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def gather(obj, context):
    """[obj of rank 0, obj of rank 1, ...] on every process."""
    if not context.enabled:
        return [obj]
    out = [None] * context.worldSize
    dist.all_gather_object(out, obj)
    return out


def parameters_digest(module):
    """A hash of a module's parameters (not its buffers), to check that the
    replicas in all processes hold the same weights."""
    h = hashlib.sha256()
    for name, p in module.named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def cleanup(context):
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
