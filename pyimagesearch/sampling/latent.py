"""Drawing from a trained generator: seeded noise, batches, latent walks."""

import torch

from torch.nn.functional import one_hot

from ..models import told
from ..noise import truncate_

NOISE_DIM = 100


def noise(num, seed, dim=NOISE_DIM, truncation=None):
    """`num` latent vectors (num, dim, 1, 1), from a CPU generator of their
    own: the same seed gives the same vectors on every device.

    truncation T (None: off): the truncation trick, every component whose
    magnitude exceeds T drawn again from the same stream until none does:
    a standard normal truncated to [-T, T], which trades the samples'
    variety for their fidelity. The components already within T are the
    untruncated noise's own, so the same seed at two T gives the same
    digits where they did not need redrawing."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(num, dim, 1, 1, generator=g)
    if truncation is not None:
        truncate_(z, truncation, g)
    return z


def generate(gen, z, device, labels=None, batchSize=1000):
    """G(z) in eval mode, in batches; (N, C, S, S) on the CPU, in [-1, 1].
    labels: the classes (N,) or codes (N, K) a conditional generator is
    told. The generator is left in the mode it was in."""
    wasTraining = gen.training
    gen.eval()
    chunks = [None] * len(z.split(batchSize)) if labels is None else labels.split(batchSize)
    out = [told(gen, chunk.to(device), None if y is None else y.to(device)).cpu()
           for chunk, y in zip(z.split(batchSize), chunks)]
    gen.train(wasTraining)
    return torch.cat(out)


def slerp(a, b, t):
    """Spherical interpolation between rows of `a` and `b` (N, D) at t in
    [0, 1]: the path stays at the radius Gaussian noise lives on, where a
    straight line would pass through the low-norm middle no sample comes
    from (White, "Sampling Generative Networks", 2016)."""
    aUnit = a / a.norm(dim=1, keepdim=True)
    bUnit = b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((aUnit * bUnit).sum(1, keepdim=True).clamp(-1, 1))   # (N, 1)
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    safe = so.abs() > 1e-6            # (anti)parallel rows: fall back to a line
    so = torch.where(safe, so, torch.ones_like(so))
    out = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return torch.where(safe, out, lerp)


def latent_walk(num, keyframes, steps, seed, dim=NOISE_DIM, truncation=None):
    """A looping walk for `num` cells through `keyframes` random points each,
    `steps` frames from one point to the next: (frames, num, dim, 1, 1).
    truncation: the points' (the path between two of them keeps their
    radius, so it stays as near the centre as they are)."""
    points = noise(keyframes * num, seed, dim, truncation).view(keyframes, num, dim)
    frames = []
    for k in range(keyframes):
        a, b = points[k], points[(k + 1) % keyframes]     # back to the start
        for s in range(steps):
            frames.append(slerp(a, b, s / steps))
    return torch.stack(frames).view(len(frames), num, dim, 1, 1)


def morph(gen, zA, zB, steps, device, label=None):
    """The walk from zA to zB by spherical interpolation: (steps + 1) images.
    label: the class a conditional generator draws all along."""
    a, b = zA.view(1, -1), zB.view(1, -1)
    path = torch.cat([slerp(a, b, t / steps) for t in range(steps + 1)])
    labels = None if label is None else torch.full((len(path),), label)
    return generate(gen, path.view(len(path), -1, 1, 1), device, labels)


def class_codes(a, b, numClasses, steps):
    """The straight line from class a's one-hot code to class b's:
    (steps + 1, numClasses), the first row a's code, the last b's."""
    ends = one_hot(torch.tensor([a, b]), numClasses).float()             # (2, K)
    t = torch.arange(steps + 1, dtype=torch.float32)[:, None] / steps    # (steps + 1, 1)
    return (1 - t) * ends[0] + t * ends[1]


def class_morph(gen, z, a, b, numClasses, steps, device):
    """A conditional generator's walk from class a to class b with the same
    noise z (1, dim, 1, 1): only the class code moves. (steps + 1) images."""
    codes = class_codes(a, b, numClasses, steps)
    return generate(gen, z.view(1, -1, 1, 1).expand(len(codes), -1, -1, -1), device, codes)
