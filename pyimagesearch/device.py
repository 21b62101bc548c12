"""Choosing the device once, in one place."""

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def select_device(name="auto"):
    """`auto`: CUDA, then Apple MPS, then the CPU. Raises ValueError when a
    device that was asked for by name is not there."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA GPU "
                         f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
    if name == "mps" and not _mps_available():
        raise ValueError("--device mps was asked for, but Apple MPS is not available")
    return torch.device("cuda:0" if name == "cuda" else name)


def describe(device):
    """The device in words, for the log and run.json."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"
