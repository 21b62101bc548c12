"""The CPU's bf16 kernels that --amp swaps in where oneDNN's own are slow
(docs/speed.md): the generator's first transposed convolution, on the 1 x 1
noise, as the matrix product it is there, and the layers that meet the
images' few channels (G's last, D's first) by phases: a 3 x 3 convolution
to 4 x the channels and a pixel shuffle. The same weights and names as the
layers they replace; outside their case, those layers bit for bit."""

import torch
from torch import nn


class OnePixelConvTranspose2d(nn.ConvTranspose2d):
    """A ConvTranspose2d that, on a 1 x 1 input under the CPU's bf16
    autocast (--amp), computes as the matrix product it is there:
    out[n, o, i, j] = sum_c x[n, c] * weight[c, o, i, j].
    oneDNN's bf16 kernel for this shape took 4.1 ms a step forward and back
    against 0.9 for the product (docs/speed.md). Anywhere else (float32,
    other inputs, a layer with a bias: the product plus a float32 bias would
    come out in float32, not the layer's bfloat16) it is the plain layer,
    bit for bit."""

    def forward(self, x, output_size=None):
        if not (x.dim() == 4 and x.shape[-2:] == (1, 1) and output_size is None
                and self.bias is None and torch.is_autocast_enabled("cpu")):
            return super().forward(x, output_size)
        n, (k, kw), out = x.shape[0], self.kernel_size, self.out_channels
        # (C, O, k, kw) -> (C, k * kw * O): the product comes out channels_last
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)
        return torch.matmul(x.reshape(n, -1), weight).view(n, k, kw, out).permute(0, 3, 1, 2)


# conv_transpose2d with a 4 x 4 kernel, stride 2, padding 1, as a 3 x 3
# convolution to 4 x the channels and a pixel shuffle: output row 2m + a
# takes kernel row _PHASE[a][u] at input row m + u - 1 (4: none, a zero)
_PHASE = ((3, 1, 4), (4, 2, 0))
# at most this many channels on the images' side (measured at 1 and 3;
# at 16 and 32 oneDNN's own kernel is faster)
_FEW_CHANNELS = 4


def transposed_by_phases(x, weight):
    """conv_transpose2d(x, weight, stride=2, padding=1) for a (C, O, 4, 4)
    weight: out[n, o, 2m + a, 2k + b] is a 3 x 3 convolution of x around
    (m, k) with the kernel taps that phase (a, b) meets. For few output
    channels oneDNN's bf16 kernel of the transposed layer ran at a fifth of
    its speed elsewhere (1.7 against 0.6 ms for G's last layer at batch
    128, docs/speed.md)."""
    rows = torch.tensor(_PHASE, device=weight.device)
    padded = nn.functional.pad(weight, (0, 1, 0, 1))              # tap 4: zero
    taps = padded[:, :, rows][..., rows]                            # (C, O, a, u, b, v)
    channels, out = weight.shape[:2]
    phases = taps.permute(1, 2, 4, 0, 3, 5).reshape(out * 4, channels, 3, 3)
    y = nn.functional.conv2d(x, phases.contiguous(memory_format=torch.channels_last), padding=1)
    return nn.functional.pixel_shuffle(y, 2)


def _native_backward(grad, x, weight, transposed, mask, bias=False):
    """oneDNN's gradients of the 4 x 4, stride 2, padding 1 layer, those `mask` asks for."""
    return torch.ops.aten.convolution_backward(
        grad, x, weight, [weight.shape[0]] if bias else None, [2, 2], [1, 1], [1, 1],
        transposed, [0, 0], 1, mask)


class _PhasedTransposed(torch.autograd.Function):
    """G's last layer under --amp: forward by phases, backward oneDNN's."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return transposed_by_phases(x, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        gradX, gradW, _ = _native_backward(grad, x, weight, True,
                                           [*ctx.needs_input_grad, False])
        return gradX, gradW


class _PhasedInputGradConv(torch.autograd.Function):
    """D's first layer under --amp: forward and weight gradient oneDNN's,
    the gradient of the images (a transposed convolution to their few
    channels) by phases."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.biased = bias is not None
        return nn.functional.conv2d(x, weight, bias, stride=2, padding=1)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needX, needW, needB = ctx.needs_input_grad
        gradX = None
        if needX and x.shape[-2:] == tuple(2 * s for s in grad.shape[-2:]):
            gradX = transposed_by_phases(grad, weight)
        elif needX:                                     # odd sizes: oneDNN's own
            gradX = _native_backward(grad, x, weight, False, [True, False, False])[0]
        _, gradW, gradB = _native_backward(grad, x, weight, False,
                                           [False, needW, needB and ctx.biased], ctx.biased)
        return gradX, gradW, gradB if ctx.biased else None


def _as_bf16(*tensors):
    return [None if t is None else t.to(torch.bfloat16) for t in tensors]


def _in_the_phases_case(x, layer):
    """The phases' case: a batch of images under the CPU's bfloat16
    autocast (not float16: the phases' casts are bfloat16's), tensors
    autocast would cast (float64 ones it leaves as they are), and the layer
    still the shape the phases cover (not changed since the swap, e.g. a
    bias given to the transposed layer)."""
    return (x.dim() == 4 and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16
            and x.is_floating_point() and x.dtype != torch.float64
            and all(p is None or p.dtype != torch.float64 for p in (layer.weight, layer.bias))
            and _phased_shape(layer, type(layer) is PhasedConvTranspose2d))


class PhasedConvTranspose2d(nn.ConvTranspose2d):
    """A ConvTranspose2d (4 x 4, stride 2, padding 1, no bias, few output
    channels: G's last layer) computed by phases under the CPU's bf16
    autocast (--amp); anywhere else the plain layer, bit for bit."""

    def forward(self, x, output_size=None):
        if output_size is not None or not _in_the_phases_case(x, self):
            return super().forward(x, output_size)
        return _PhasedTransposed.apply(*_as_bf16(x, self.weight))


class PhasedGradConv2d(nn.Conv2d):
    """A Conv2d (4 x 4, stride 2, padding 1, few input channels: D's first
    layer) whose input gradient is computed by phases under the CPU's bf16
    autocast (--amp); anywhere else the plain layer, bit for bit."""

    def forward(self, x):
        if not _in_the_phases_case(x, self):
            return super().forward(x)
        return _PhasedInputGradConv.apply(*_as_bf16(x, self.weight, self.bias))


def _phased_shape(layer, transposed):
    """Whether `layer` (a transposed one or not) is the shape the phases
    cover: 4 x 4, stride 2, padding 1, few channels on the images' side, no
    bias on the transposed one."""
    if not (layer.kernel_size == (4, 4) and layer.stride == (2, 2) and layer.padding == (1, 1)
            and layer.dilation == (1, 1) and layer.groups == 1
            and layer.padding_mode == "zeros"):
        return False
    if transposed:
        return (layer.bias is None and layer.output_padding == (0, 0)
                and layer.out_channels <= _FEW_CHANNELS)
    return layer.in_channels <= _FEW_CHANNELS


def _phased(layer):
    """The class that computes `layer` by phases under --amp on the CPU, or
    None where its shape is not the one the phases cover."""
    if type(layer) is nn.ConvTranspose2d and _phased_shape(layer, True):
        return PhasedConvTranspose2d
    if type(layer) is nn.Conv2d and _phased_shape(layer, False):
        return PhasedGradConv2d
    return None


def few_channel_phases(*models):
    """--amp on the CPU: the layers that meet the images' few channels (G's
    last, D's first) computed by phases where oneDNN's bf16 kernel is slow
    (PhasedConvTranspose2d, PhasedGradConv2d; the same weights and
    names)."""
    for model in models:
        for layer in model.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and (kind := _phased(layer)):
                layer.__class__ = kind


def one_pixel_products(gen):
    """--amp on the CPU: the generator's transposed convolutions that can
    meet a 1 x 1 input (the first: the noise) computed as matrix products
    under autocast (OnePixelConvTranspose2d; the same weights and names)."""
    for layer in gen.modules():
        if (type(layer) is nn.ConvTranspose2d and layer.padding == (0, 0)
                and layer.output_padding == (0, 0) and layer.dilation == (1, 1)
                and layer.groups == 1):
            layer.__class__ = OnePixelConvTranspose2d
