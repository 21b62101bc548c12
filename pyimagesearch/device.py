"""Where the arithmetic runs, and the device-specific ways to run it fast."""

import torch
from torch import nn

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


def memory_format(device):
    """The tensor layout to train in: channels_last (NHWC) on the CPU, where
    oneDNN's convolutions run faster in it for these layers
    (docs/speed.md); PyTorch's default elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def fused_adam(device):
    """True where this PyTorch has Adam's fused (one-kernel) implementation
    for the device, else None (Adam's default)."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return None
    return True


class Autocast(nn.Module):
    """`module` run under bfloat16 autocast (mixed precision, --amp), its
    output handed back in float32, so that the loss (BCELoss, which autocast
    must not touch) is computed in float32. Holds the same parameters."""

    def __init__(self, module, deviceType):
        super().__init__()
        self.module, self.deviceType = module, deviceType

    def forward(self, *inputs):
        with torch.autocast(device_type=self.deviceType, dtype=torch.bfloat16):
            return self.module(*inputs).float()
