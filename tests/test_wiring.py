"""The CPU's fast paths change no arithmetic (issue 33): D's last feature
maps flattened with their gradient handed back in channels_last give the
same gradients bit for bit; the allocator setting and the --amp hint are
where they should be."""

import copy
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from pyimagesearch import bf16_kernels, device
from pyimagesearch.models import model_classes
from pyimagesearch.training import wiring


@pytest.mark.parametrize("size, numClasses", [(28, None), (64, None), (28, 10)])
def test_the_flatten_hook_changes_no_gradient_and_hands_it_back_in_channels_last(size, numClasses):
    torch.manual_seed(0)
    Generator, Discriminator = model_classes(size, numClasses)
    gen, disc = Generator(inputDim=100, outputChannels=1), Discriminator(depth=1)
    plainGen, plainDisc = copy.deepcopy(gen), copy.deepcopy(disc)
    plainGen.to(memory_format=torch.channels_last)
    plainDisc.to(memory_format=torch.channels_last)
    wiring.lay_out(gen, disc, torch.device("cpu"))
    images = torch.rand(8, 1, size, size) * 2 - 1
    labels = torch.arange(8) % 10 if numClasses else None
    seen = []
    names = [n for n, _ in disc.named_children()]
    last = getattr(disc, names[names.index("fc1") - 1])
    # the gradient that reaches the activation's own output (before the hook's copy)
    def watch(module, inputs, output):
        output.register_hook(seen.append)           # returns None: the output stays

    last.register_forward_hook(watch, prepend=True)
    for d in (disc, plainDisc):
        out = d(images) if labels is None else d(images, labels)
        out.sum().backward()
    assert seen and seen[0].is_contiguous(memory_format=torch.channels_last)
    for (name, p), q in zip(disc.named_parameters(), plainDisc.parameters()):
        assert torch.equal(p.grad, q.grad), name


def test_the_heap_is_kept_on_the_cpu_only():
    assert device.keep_heap(torch.device("cuda", 0)) is False
    assert device.keep_heap(torch.device("cpu")) in (True, False)      # False off glibc


def test_the_amp_hint_is_said_only_for_a_cpu_with_bfloat16_units_and_no_amp(monkeypatch):
    monkeypatch.setattr(device, "bfloat16_units", lambda: "AMX-BF16")
    hint = device.amp_hint(torch.device("cpu"), amp=False)
    assert "--amp" in hint and "AMX-BF16" in hint and "docs/speed.md" in hint
    assert device.amp_hint(torch.device("cpu"), amp=True) is None
    assert device.amp_hint(torch.device("cuda", 0), amp=False) is None
    monkeypatch.setattr(device, "bfloat16_units", lambda: None)
    assert device.amp_hint(torch.device("cpu"), amp=False) is None


def profile_step(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "profile_step.py"),
                           *map(str, args)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.parametrize("args, said", [
    (("--steps", "0"), "argument --steps: must be a positive integer, got 0"),
    (("--steps", "-3"), "argument --steps: must be a positive integer, got -3"),
    (("--batch-size", "0"), "argument --batch-size: must be a positive integer, got 0"),
    (("--top", "0"), "argument --top: must be a positive integer, got 0"),
    (("--json", "/nonexistent-folder/p.json"), "no folder /nonexistent-folder")])
def test_profile_step_refuses_a_bad_argument_in_its_own_words(tmp_path, args, said):
    """Not dcgan_mnist.py's usage and an --limit the user never gave, not a
    traceback after the run."""
    result = profile_step("--data-dir", tmp_path, *args)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and last.startswith("profile_step.py: error:"), result.stderr
    assert said in last and "--limit" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_profile_step_refuses_data_smaller_than_the_steps_it_would_report(tmp_path, tiny_data):
    """96 images (64 + 32 test) cannot give 4 batches of 32: it says so
    rather than print '4 batches of 32' and the time of 3 divided by 4."""
    result = profile_step("--data-dir", tiny_data, "--steps", "4", "--batch-size", "32")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "3 batches" in last and "--steps 4" in last and "a step" not in result.stdout


def test_same_run_refuses_a_folder_without_a_run_in_one_line(tmp_path):
    """The check of issue 33's promise says what is wrong with its input,
    not a traceback from torch.load."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "same_run.py"),
                             str(tmp_path / "no-run"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert last.startswith("same_run.py: error:") and "no-run holds no checkpoint.pt" in last


@pytest.mark.parametrize("numClasses", [None, 10])
def test_kept_casts_give_the_same_steps_as_autocast_alone(numClasses):
    """--amp's bfloat16 weight copies, made once between two optimizer
    steps, give the values and gradients autocast's own casts give, through
    the script's order (D on real and fake, D's fused Adam step, D frozen
    for G, G's step) and through no_grad and a load of other weights."""
    Generator, Discriminator = model_classes(28, numClasses)
    nets = {}
    for keep in (False, True):
        torch.manual_seed(0)
        gen, disc = Generator(inputDim=100, outputChannels=1), Discriminator(depth=1)
        wiring.lay_out(gen, disc, torch.device("cpu"))
        # fused, as the script's: its steps leave the weights' version as it was
        genOpt, discOpt = (torch.optim.Adam(m.parameters(), lr=2e-4, fused=True)
                           for m in (gen, disc))
        g, d = wiring.modules_to_train(gen, disc, "cpu", amp=True, compile=False,
                                       discOpt=discOpt if keep else None)
        nets[keep] = (gen, disc, g, d, genOpt, discOpt)
    assert nets[True][3].optimizer is not None and nets[False][3].optimizer is None
    loss = torch.nn.BCELoss()
    for step in range(3):
        images = torch.rand(8, 1, 28, 28) * 2 - 1
        noise = torch.randn(8, 100, 1, 1)
        labels = (torch.arange(8) + step) % 10 if numClasses else None
        seen = () if labels is None else (torch.cat((labels, labels)),)
        told = () if labels is None else (labels,)
        results = {}
        for keep, (gen, disc, g, d, genOpt, discOpt) in nets.items():
            disc.zero_grad()
            fake = g(noise, *told)
            out = d(torch.cat((images, fake.detach())), *seen).view(-1)
            loss(out, torch.cat((torch.ones(8), torch.zeros(8)))).backward()
            dGrads = [p.grad.clone() for p in disc.parameters()]
            discOpt.step()
            gen.zero_grad()
            disc.requires_grad_(False)
            out2 = d(fake, *told).view(-1)
            loss(out2, torch.ones(8)).backward()
            disc.requires_grad_(True)
            genOpt.step()
            with torch.no_grad():
                drawn = g(noise, *told)
                judged = d(images, *told)
            results[keep] = [out, out2, drawn, judged, *dGrads,
                             *[p.grad for p in gen.parameters()], *disc.parameters()]
        for a, b in zip(results[False], results[True]):
            assert torch.equal(a, b)
    # other weights loaded in place (copy_: a new version) are seen
    for keep in (False, True):
        with torch.no_grad():
            for p in nets[keep][1].parameters():
                p.mul_(0.5)
    assert torch.equal(nets[True][3](images, *told), nets[False][3](images, *told))


@pytest.mark.parametrize("size, numClasses", [(28, None), (64, None), (28, 10)])
def test_the_first_transposed_convolution_as_a_product_under_amp(size, numClasses):
    """--amp on the CPU: G's first layer, which meets the noise as a 1 x 1
    image, computed as a matrix product under autocast: the plain layer in
    float32 (bit for bit), and under autocast the transposed convolution's
    values and gradients to bfloat16's precision, in channels_last."""
    Generator, _ = model_classes(size, numClasses)
    torch.manual_seed(0)
    plain = Generator(inputDim=100, outputChannels=1).to(memory_format=torch.channels_last)
    fast = copy.deepcopy(plain)
    wiring.modules_to_train(fast, torch.nn.Identity(), "cpu", amp=True, compile=False)
    products = [n for n, m in fast.named_modules() if type(m) is bf16_kernels.OnePixelConvTranspose2d]
    assert products == ["ct1"]
    assert fast.state_dict().keys() == plain.state_dict().keys()
    noise = torch.randn(16, 100, 1, 1)
    extra = (torch.arange(16) % 10,) if numClasses else ()
    assert torch.equal(plain(noise, *extra), fast(noise, *extra))         # float32: the layer itself
    outs = []
    for g in (plain, fast):
        g.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x = g.ct1(torch.cat((noise, torch.nn.functional.one_hot(extra[0], 10)[..., None, None]
                                 .float()), 1) if numClasses else noise)
        x.float().square().sum().backward()
        outs.append((x, g.ct1.weight.grad))
    (a, ga), (b, gb) = outs
    assert b.is_contiguous(memory_format=torch.channels_last) and b.dtype == torch.bfloat16
    assert torch.allclose(a.float(), b.float(), rtol=1e-2, atol=1e-2)
    assert torch.allclose(ga, gb, rtol=2e-2, atol=2e-2 * ga.abs().max().item())


def test_a_call_in_inference_mode_keeps_no_copy_for_training():
    """Copies made under torch.inference_mode could not join a graph later:
    such a call keeps none, and training after it works."""
    _, Discriminator = model_classes(28, None)
    disc = Discriminator(depth=1)
    opt = torch.optim.Adam(disc.parameters(), fused=True)
    d = device.Autocast(disc, "cpu", opt)
    images = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        d(images)
    d(images).sum().backward()
    assert all(p.grad is not None for p in disc.parameters())


def test_a_biased_one_pixel_layer_under_amp_is_the_plain_layer():
    """A transposed convolution with a bias, swapped as G's first layer is:
    under autocast it gives what the plain layer gives (bfloat16, bit for
    bit), not a float32 sum of the bfloat16 product and the float32 bias."""
    torch.manual_seed(0)
    plain = torch.nn.ConvTranspose2d(16, 8, kernel_size=4, stride=2, bias=True)
    fast = copy.deepcopy(plain)
    fast.__class__ = bf16_kernels.OnePixelConvTranspose2d
    noise = torch.randn(4, 16, 1, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = plain(noise), fast(noise)
    assert b.dtype == a.dtype == torch.bfloat16
    assert torch.equal(a, b)


def _autocast_alone(module, *inputs):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return module(*inputs).float()


def test_kept_copies_follow_new_parameters_and_leave_unwatched_ones_to_autocast():
    """Weights another optimizer steps are cast by autocast at each call;
    Parameters replaced after the wrapping (load_state_dict(assign=True))
    are the ones used, and get the gradients."""
    _, Discriminator = model_classes(28, None)
    torch.manual_seed(0)
    disc = Discriminator(depth=1)
    convs = [p for n, p in disc.named_parameters() if n.startswith("conv")]
    linears = [p for n, p in disc.named_parameters() if n.startswith("fc")]
    watched = torch.optim.Adam(convs, lr=1e-2, fused=True)
    other = torch.optim.Adam(linears, lr=1e-2, fused=True)
    d = device.Autocast(disc, "cpu", watched)
    images = torch.rand(4, 1, 28, 28)
    d(images).sum().backward()
    other.step()                                        # fc1, fc2 change; the hook is not told
    assert torch.equal(d(images), _autocast_alone(disc, images))
    fresh = {k: torch.nn.Parameter(v.clone() * 0.5) if v.is_floating_point() else v
             for k, v in disc.state_dict().items()}
    disc.load_state_dict(fresh, assign=True)
    watched.param_groups[0]["params"] = [p for n, p in disc.named_parameters()
                                         if n.startswith("conv")]
    out = d(images)
    assert torch.equal(out, _autocast_alone(disc, images))
    disc.zero_grad()
    out.sum().backward()
    assert all(p.grad is not None for p in disc.parameters())


@pytest.mark.parametrize("channels, size", [(1, 14), (3, 7), (2, 1)])
def test_the_phases_are_the_transposed_convolution(channels, size):
    """conv_transpose2d with a 4 x 4 kernel, stride 2, padding 1, as a 3 x 3
    convolution to 4 x the channels and a pixel shuffle: the same numbers
    in float64, every tap in its place."""
    torch.manual_seed(0)
    x = torch.randn(3, 8, size, size, dtype=torch.float64)
    weight = torch.randn(8, channels, 4, 4, dtype=torch.float64)
    plain = torch.nn.functional.conv_transpose2d(x, weight, stride=2, padding=1)
    phased = bf16_kernels.transposed_by_phases(x, weight)
    assert phased.shape == plain.shape == (3, channels, 2 * size, 2 * size)
    assert torch.allclose(phased, plain, rtol=0, atol=1e-12)


def _few_channel_models(size, numClasses, channels):
    Generator, Discriminator = model_classes(size, numClasses)
    torch.manual_seed(0)
    gen = Generator(inputDim=100, outputChannels=channels).to(memory_format=torch.channels_last)
    disc = Discriminator(depth=channels).to(memory_format=torch.channels_last)
    return gen, disc


@pytest.mark.parametrize("size, numClasses, channels", [(28, None, 1), (64, None, 3), (28, 10, 1)])
def test_the_few_channel_layers_by_phases_under_amp(size, numClasses, channels):
    """--amp on the CPU: G's last layer and D's first computed by phases
    (the same weights and names): the plain layers in float32, bit for bit;
    under autocast the same values and gradients as autocast's own kernels,
    to bfloat16's precision, against a float32 reference."""
    plain = _few_channel_models(size, numClasses, channels)
    fast = copy.deepcopy(plain)
    wiring.modules_to_train(*fast, "cpu", amp=True, compile=False)
    last = [n for n, m in plain[0].named_children() if isinstance(m, torch.nn.ConvTranspose2d)][-1]
    assert [(n, type(m)) for n, m in fast[0].named_children() if "Phased" in type(m).__name__] \
        == [(last, bf16_kernels.PhasedConvTranspose2d)]
    assert [(n, type(m)) for n, m in fast[1].named_children() if "Phased" in type(m).__name__] \
        == [("conv1", bf16_kernels.PhasedGradConv2d)]
    for p, f in zip(plain, fast):
        assert f.state_dict().keys() == p.state_dict().keys()
    noise = torch.randn(16, 100, 1, 1)
    labels = (torch.arange(16) % 10,) if numClasses else ()

    def grads(gen, disc, amp):
        gen.zero_grad(), disc.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            images = gen(noise, *labels)
            verdict = disc(images, *labels)
        verdict.float().sum().backward()
        named = [*gen.named_parameters(prefix="G"), *disc.named_parameters(prefix="D")]
        return images.float(), {n: p.grad.clone() for n, p in named}

    imagesPlain, gradsPlain = grads(*plain, amp=False)
    imagesFast, gradsFast = grads(*fast, amp=False)
    assert torch.equal(imagesPlain, imagesFast)                     # float32: the layers themselves
    assert all(torch.equal(gradsPlain[n], gradsFast[n]) for n in gradsPlain)
    imagesAuto, gradsAuto = grads(*plain, amp=True)
    imagesPhased, gradsPhased = grads(*fast, amp=True)
    # bfloat16's rounding differs by CPU (oneDNN picks its kernels, and their
    # order of sums, by the instructions it finds), so the yardstick is
    # autocast's own error against the float32 reference on this machine: the
    # phases may round differently, never be much further from the truth. A
    # wrong phase or tap is off by the size of the images themselves (~1).
    autoWorst = (imagesAuto - imagesPlain).abs().max()
    assert (imagesPhased - imagesPlain).abs().max() <= 2 * autoWorst + 2 ** -7
    relative = lambda a, ref: (a - ref).norm() / ref.norm()
    assert relative(imagesPhased, imagesPlain) <= 1.5 * relative(imagesAuto, imagesPlain) + 1e-3
    for n, ref in gradsPlain.items():
        if ref.abs().max() == 0:
            continue
        assert relative(gradsPhased[n], ref) <= 1.5 * relative(gradsAuto[n], ref) + 2e-3, n


def test_only_the_shapes_the_phases_cover_are_swapped():
    layers = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=True),        # a bias: kept plain
        torch.nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),      # many channels
        torch.nn.ConvTranspose2d(32, 1, 3, 2, 1, bias=False),       # another kernel
        torch.nn.ConvTranspose2d(32, 1, 4, 2, 1, output_padding=1, bias=False),
        torch.nn.Conv2d(16, 32, 4, 2, 1),                           # many channels
        torch.nn.Conv2d(1, 32, 4, 2, 1, padding_mode="reflect"),
        torch.nn.Conv2d(1, 32, 4, 1, 1),                            # stride 1
        torch.nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=False),       # these two are
        torch.nn.Conv2d(3, 32, 4, 2, 1))                            # swapped
    bf16_kernels.few_channel_phases(layers)
    assert [type(m).__name__ for m in layers][-2:] == ["PhasedConvTranspose2d", "PhasedGradConv2d"]
    assert all(type(m) in (torch.nn.ConvTranspose2d, torch.nn.Conv2d) for m in layers[:-2])


@pytest.mark.parametrize("size", [27, 28])
def test_the_first_layers_input_gradient_by_phases_at_any_size(size):
    """D's first layer under autocast: the images' gradient by phases where
    the size is even, oneDNN's own where it is odd (the phases would give
    one row fewer); the bias's and weight's gradients as autocast's."""
    torch.manual_seed(0)
    plain = torch.nn.Conv2d(1, 32, 4, 2, 1)
    fast = copy.deepcopy(plain)
    fast.__class__ = bf16_kernels.PhasedGradConv2d
    images = torch.rand(8, 1, size, size)
    outs = []
    for layer in (plain, fast):
        x = images.clone().requires_grad_()
        layer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x)
        (y.float() * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        outs.append((y, x.grad, layer.weight.grad, layer.bias.grad))
    (y0, gx0, gw0, gb0), (y1, gx1, gw1, gb1) = outs
    assert y1.dtype == y0.dtype == torch.bfloat16 and torch.equal(y0, y1)
    assert gx1.shape == gx0.shape and gx1.dtype == gx0.dtype
    assert torch.allclose(gx0, gx1, rtol=2e-2, atol=2e-2 * gx0.abs().max().item())
    assert torch.equal(gw0, gw1) and torch.equal(gb0, gb1)


@pytest.mark.parametrize("transposed", [True, False])
def test_the_phased_layers_are_the_plain_ones_outside_their_case(transposed):
    """The phased layers only where the phases hold: under the CPU's
    float16 autocast, on float64 tensors (which autocast leaves alone), and
    for a layer changed after the swap (a bias given to G's last layer, a
    stride), the plain layer's answer, its dtype, or its error."""
    torch.manual_seed(0)
    if transposed:
        plain, shape = torch.nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), (2, 32, 7, 7)
    else:
        plain, shape = torch.nn.Conv2d(1, 8, 4, 2, 1), (2, 1, 28, 28)
    fast = copy.deepcopy(plain)
    bf16_kernels.few_channel_phases(fast)
    assert type(fast).__name__.startswith("Phased")
    x = torch.randn(shape)

    def both(dtype=torch.bfloat16, xdtype=torch.float32):
        outs = []
        for layer in (plain, fast):
            with torch.autocast("cpu", dtype=dtype):
                try:
                    outs.append(layer(x.to(xdtype)))
                except RuntimeError as e:
                    outs.append(type(e))
        return outs

    a, b = both(dtype=torch.float16)                                # float16 autocast
    assert a.dtype == b.dtype == torch.float16 and torch.equal(a, b)
    a, b = both(xdtype=torch.float64)                               # autocast casts the weight only:
    assert a is b is RuntimeError                                   # the plain layer's error
    plain.double(), fast.double()
    a, b = both(xdtype=torch.float64)                               # float64 left alone
    assert a.dtype == b.dtype == torch.float64 and torch.equal(a, b)
    plain.float(), fast.float()
    if transposed:
        plain.bias = torch.nn.Parameter(torch.full((1,), 5.0))
        fast.bias = torch.nn.Parameter(torch.full((1,), 5.0))
    else:
        plain.stride = fast.stride = (1, 1)
    a, b = both()
    assert a.dtype == b.dtype and torch.equal(a, b)


def test_the_cpu_is_described_with_its_threads_in_good_english(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert device.describe(torch.device("cpu")) == "cpu (1 thread)"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert device.describe(torch.device("cpu")) == "cpu (2 threads)"
