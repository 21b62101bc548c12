"""The noise a generator takes: standard normal values, optionally
truncated (the truncation trick of Brock et al., BigGAN, ICLR 2019: every
value beyond [-T, T] drawn again, which trades the samples' variety for
their fidelity without retraining). Shared by the samplers
(sampling/latent.py), the Hub model (hub.py) and the argparse type (cli.py)."""

import torch

# at 0.1 a value is kept 8 % of the time, and every draw still ends in a few
# dozen rounds; above 10 nothing is ever redrawn (P(|z| > 10) ~ 1e-23)
MIN_TRUNCATION, MAX_TRUNCATION = 0.1, 10.0


def truncate_(z, truncation, generator=None):
    """Redraw, in place, every value of z whose magnitude exceeds
    `truncation` from `generator` (None: torch's global one), until none
    does; returns z. Values already within [-T, T] are kept as they are."""
    if not MIN_TRUNCATION <= truncation <= MAX_TRUNCATION:
        raise ValueError(f"truncation must be from {MIN_TRUNCATION:g} to {MAX_TRUNCATION:g}, "
                         f"got {truncation!r}")
    outside = z.abs() > truncation
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator, dtype=z.dtype)
        outside = z.abs() > truncation
    return z
