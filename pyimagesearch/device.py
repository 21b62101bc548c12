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
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"


def memory_format(device):
    """The tensor layout to train in: channels_last (NHWC) on the CPU, where
    oneDNN's convolutions run faster in it for these layers
    (docs/speed.md); PyTorch's default elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


# glibc's malloc hands blocks above its mmap threshold (128 KiB, growing to
# at most 32 MiB) straight from the kernel and back, so every step's large
# activations and gradients arrive as fresh pages, each faulted in and
# zeroed: kept in the heap instead, and not trimmed back after each free
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_KEPT = 1 << 30


def keep_heap(device):
    """On the CPU with glibc: large blocks from the heap and kept there
    (mallopt): the same arithmetic, a float32 step about 10 % faster, a
    higher peak memory (docs/speed.md). Returns whether it was set."""
    if device.type != "cpu":
        return False
    import ctypes       # import here: only a CPU run on glibc uses it
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, HEAP_KEPT)
                    and libc.mallopt(M_TRIM_THRESHOLD, HEAP_KEPT))
    except (OSError, AttributeError):          # not glibc: macOS, Windows, musl
        return False


# --amp against the float32 default, dcgan_mnist.py on 2 cores of an Intel
# Xeon with AMX-BF16 (docs/speed.md): what the hint below says
AMP_SPEEDUP_MEASURED = "1.8x"


def bfloat16_units():
    """The CPU's bfloat16 units by /proc/cpuinfo's flags ("AMX-BF16",
    "AVX512-BF16"), or None (none, or not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return None
    units = [name for flag, name in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"))
             if flag in flags]
    return ", ".join(units) or None


def amp_hint(device, amp):
    """The line that tells a CPU run without --amp on a CPU with bfloat16
    units what --amp would give, or None."""
    units = bfloat16_units() if device.type == "cpu" and not amp else None
    if units is None:
        return None
    return (f"this CPU has bfloat16 units ({units}): --amp trained {AMP_SPEEDUP_MEASURED} "
            "faster than float32 on such a CPU, to the same FLD within the seeds' spread "
            "(docs/speed.md); the default keeps the article's float32")


def fused_adam(device):
    """True where this PyTorch has Adam's fused (one-kernel) implementation
    for the device, else None (Adam's default)."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return None
    return True


# the layers whose weights autocast hands to bfloat16 kernels
AUTOCAST_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                   nn.ConvTranspose3d, nn.Linear)


class _KeptCast(torch.autograd.Function):
    """A weight's bfloat16 copy made before, as autocast's own cast: the
    copy forward, the gradient back in the weight's float32."""

    @staticmethod
    def forward(ctx, weight, kept):
        return kept.detach()          # (an alias in the same strides)

    @staticmethod
    def backward(ctx, grad):
        return grad.float(), None


class Autocast(nn.Module):
    """`module` run under bfloat16 autocast (mixed precision, --amp), its
    output handed back in float32, so that the loss (BCELoss, which autocast
    must not touch) is computed in float32. Holds the same parameters.

    optimizer: the one that steps the module's weights; with it, the
    bfloat16 copies of the convolutions' and matrix products' weights that
    it steps, which autocast makes at every call, are made once between two
    of its steps (the script's D meets the same weights in the generator's
    turn and in its own next pass): the same values and gradients as
    autocast's casts (docs/speed.md). Its steps are watched by a hook, as
    fused Adam changes the weights without changing their version; other
    changes by a weight's identity, version and storage (a load, a new
    Parameter). Not seen: writes through `.data` (as the article's
    weights_init makes, before the wrapping)."""

    def __init__(self, module, deviceType, optimizer=None):
        super().__init__()
        self.module, self.deviceType, self.optimizer = module, deviceType, optimizer
        # (name, layer, attribute) of each weight autocast would cast
        self.slots = [(f"{name}.{key}" if name else key, layer, key)
                      for name, layer in module.named_modules()
                      if isinstance(layer, AUTOCAST_LAYERS)
                      for key, _ in layer.named_parameters(recurse=False)]
        self.kept = (None, None)
        if optimizer is not None:
            optimizer.register_step_post_hook(self._forget)

    def _forget(self, *_):
        self.kept = (None, None)

    def forward(self, *inputs):
        with torch.autocast(device_type=self.deviceType, dtype=torch.bfloat16):
            if self.optimizer is None or torch.is_inference_mode_enabled():   # (none to keep)
                return self.module(*inputs).float()
            return torch.func.functional_call(self.module, self._casts(), inputs,
                                              strict=False).float()

    def _casts(self):
        """{name: bfloat16 copy} of the weights the optimizer steps: made
        again after its step or when one has changed otherwise, and tied to
        the weight for the gradient when it needs one. The others are left
        to autocast."""
        stepped = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        weights = [(name, p) for name, layer, key in self.slots
                   if id(p := getattr(layer, key)) in stepped]
        state = tuple((name, id(p), p._version, p.data_ptr()) for name, p in weights)
        if self.kept[0] != state:
            with torch.no_grad():
                self.kept = (state, [p.to(torch.bfloat16) for _, p in weights])
        grad = torch.is_grad_enabled()
        return {name: _KeptCast.apply(p, kept) if grad and p.requires_grad else kept
                for (name, p), kept in zip(weights, self.kept[1])}
