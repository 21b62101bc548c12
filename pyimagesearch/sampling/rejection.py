"""Better samples from the same trained networks: keeping some samples and
not others.

Discriminator Rejection Sampling (Azadi et al., "Discriminator Rejection
Sampling", ICLR 2019). A discriminator trained to optimality, D*(x) =
p_data(x) / (p_data(x) + p_g(x)), gives the density ratio
p_data / p_g = exp(D~*(x)) through its logit D~*; accepting a sample of G
with probability exp(D~*(x) - D~*_M), D~*_M the largest logit, draws from
p_data exactly. In practice (their Algorithm 1), with the choices made here:

1. calibration: the article's discriminator is the one GAN training left,
   optimal for no generator in particular. A copy of it is trained on, with
   G fixed, on real images against fresh samples (the article's Adam and
   BCE, `calibrationSteps` batches), as Azadi et al. do; then Platt scaling
   (a logistic regression of real vs generated on its logit, fitted with
   scikit-learn on other real images and samples, as Turner et al.'s MH-GAN
   calibrates) makes its probabilities honest;
2. burn-in: `burnIn` samples estimate D~*_M, the largest logit; it keeps
   growing if a larger one turns up later;
3. every sample is kept with probability sigmoid(F(x)),
   F(x) = D~(x) - D~*_M - log(1 - exp(D~(x) - D~*_M - eps)) - gamma,
   where gamma shifts the acceptance: it is set to the `gammaPercentile`
   percentile of F over the burn-in samples (Azadi et al. set it
   dynamically from a percentile of F); the higher, the fewer are kept.

Latent Langevin (Che et al. 2020, `latent_langevin`) moves every sample
instead of dropping some: on this project's digits it is the sampler that
lowered FLD (docs/rejection.md). `better_samples` runs either for the
scripts' --rejection and --langevin, with the settings of
`sampling.options.SamplerSettings`. (Choosing one digit by the evaluator
is quality/selection.py.)
"""

import copy

import numpy as np
import torch
from torch.nn import BCELoss

from ..data.imageset import to_pixels
from ..errors import UserError
from ..models import discriminator_logits
from . import latent

EPSILON = 1e-6
CALIBRATION_STEPS = 200
CALIBRATION_BATCH = 128
BURN_IN = 10_000
GAMMA_PERCENTILE = 50.0
# latent Langevin: the best setting of docs/rejection.md's sweep
LANGEVIN_STEPS = 50
LANGEVIN_STEP_SIZE = 0.01
LANGEVIN_CALIBRATION_STEPS = 1000
# the most a user may ask for: 10 and 20 times the defaults (10,000
# calibration steps take about half an hour on 2 CPU cores)
MAX_CALIBRATION_STEPS = 10_000
MAX_LANGEVIN_STEPS = 1_000
# the largest Langevin step size a user may ask for: 1,000 times the default
# (steps far smaller already blur the samples; larger ones overflow)
MAX_LANGEVIN_STEP_SIZE = 10.0
MAX_DRAWS = 1_000_000          # samples drawn at most for one request
EARLY_DRAWS = 10_000           # after these, a request that cannot be met stops at once
BATCH = 1000


class TooFewAccepted(UserError):
    """The sampler would need more draws than MAX_DRAWS."""


def f_values(logits, maxLogit, gamma, eps=EPSILON):
    """Azadi et al.'s F(x) = D~(x) - D~*_M - log(1 - exp(D~(x) - D~*_M - eps)) - gamma."""
    shifted = torch.as_tensor(logits, dtype=torch.float64) - maxLogit
    return shifted - torch.log1p(-torch.exp(shifted - eps)) - gamma


def acceptance_probability(logits, maxLogit, gamma, eps=EPSILON):
    """The probability of keeping each sample: sigmoid(F(x))."""
    return torch.sigmoid(f_values(logits, maxLogit, gamma, eps))


class Logits:
    """The discriminator's logit D~(x), the input of its final Sigmoid
    (read at fc2 with a forward hook, so the article's model is unchanged),
    and optionally Platt-scaled: a * D~(x) + b."""

    def __init__(self, disc, scale=1.0, shift=0.0):
        self.disc, self.scale, self.shift = disc, scale, shift

    def differentiable(self, images):
        """The logits of one batch, with their autograd graph (float32)."""
        self.disc.eval()
        return discriminator_logits(self.disc, images) * self.scale + self.shift

    @torch.no_grad()
    def __call__(self, images, batchSize=BATCH):
        return torch.cat([self.differentiable(chunk).double().cpu()
                          for chunk in images.split(batchSize)])


def calibrate(disc, gen, realImages, device, seed, steps=CALIBRATION_STEPS, log=print):
    """A copy of `disc` trained on, G fixed, then Platt-scaled: returns
    Logits. realImages: uint8 (N, C, S, S); the first half trains, the
    second fits the scaling."""
    from sklearn.linear_model import LogisticRegression   # scikit-learn imports in ~2 s: when used

    half = len(realImages) // 2
    train, held = realImages[:half], realImages[half:]
    disc = copy.deepcopy(disc).to(device).train()
    disc.requires_grad_(True)
    opt = torch.optim.Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999))
    criterion = BCELoss()
    g = torch.Generator().manual_seed(seed)
    noiseSeed = seed + 1
    log(f"[INFO] calibrating the discriminator: {steps} steps on {len(train):,} real images "
        "against fresh samples, G fixed; then Platt scaling on the others")
    for step in range(steps):
        index = torch.randint(len(train), (CALIBRATION_BATCH,), generator=g)
        x = to_pixels(train[index].to(device))
        fake = latent.generate(gen, latent.noise(CALIBRATION_BATCH, noiseSeed + step,
                                                     gen.ct1.in_channels), device).to(device)
        labels = torch.cat([torch.ones(CALIBRATION_BATCH), torch.zeros(CALIBRATION_BATCH)]).to(device)
        loss = criterion(disc(torch.cat([x, fake])).view(-1), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    disc.eval()
    logits = Logits(disc)
    n = min(len(held), 5000)
    real = logits(to_pixels(held[:n]).to(device))
    fake = logits(latent.generate(gen, latent.noise(n, noiseSeed + steps, gen.ct1.in_channels),
                                    device).to(device))
    x = torch.cat([real, fake]).numpy()[:, None]
    y = np.r_[np.ones(n), np.zeros(n)]
    platt = LogisticRegression(C=1e6).fit(x, y)
    return Logits(disc, float(platt.coef_[0, 0]), float(platt.intercept_[0]))


class RejectionSampler:
    """Discriminator Rejection Sampling from `gen` with calibrated logits."""

    def __init__(self, gen, logits, device, seed, burnIn=BURN_IN,
                 gammaPercentile=GAMMA_PERCENTILE, gamma=None):
        self.gen, self.logits, self.device = gen, logits, device
        self.noiseSeed = seed
        self.drawn = 0
        burn = self.logits(self._draw(burnIn).to(device))
        self.maxLogit = burn.max().item()
        if gamma is None:
            gamma = float(np.percentile(f_values(burn, self.maxLogit, 0.0).numpy(),
                                        gammaPercentile))
        self.gamma = gamma
        self.uniform = torch.Generator().manual_seed(seed + 7)

    def _draw(self, num):
        z = latent.noise(num, self.noiseSeed + self.drawn, self.gen.ct1.in_channels)
        self.drawn += num
        return latent.generate(self.gen, z, self.device)

    def sample(self, num, maxDraws=None):
        """`num` kept samples (num, C, S, S) in [-1, 1] and the numbers:
        draws, acceptance rate. TooFewAccepted rather than looping forever
        (after maxDraws, by default MAX_DRAWS, samples)."""
        maxDraws = MAX_DRAWS if maxDraws is None else maxDraws
        kept, draws, accepted = [], 0, 0
        while accepted < num:
            if hopeless(accepted, draws, num, maxDraws):
                raise TooFewAccepted(acceptance_message(accepted, draws, num, maxDraws))
            images = self._draw(BATCH)
            logits = self.logits(images.to(self.device))
            self.maxLogit = max(self.maxLogit, logits.max().item())
            p = acceptance_probability(logits, self.maxLogit, self.gamma)
            keep = torch.rand(len(p), generator=self.uniform, dtype=torch.float64) < p
            kept.append(images[keep])
            accepted += int(keep.sum())
            draws += len(images)
        return torch.cat(kept)[:num], {"draws": draws, "acceptance_rate": accepted / draws,
                                       "gamma": self.gamma, "max_logit": self.maxLogit}


def metropolis_hastings(gen, logits, device, seed, num, steps=100):
    """MH-GAN (Turner et al., "Metropolis-Hastings Generative Adversarial
    Networks", ICML 2019): `num` independent chains, each proposing `steps`
    fresh samples of G; a proposal x' replaces the chain's x with
    probability min(1, exp(D~(x') - D~(x))) (the calibrated D's odds
    ratio). Returns the chains' last states and the share of moves taken."""
    dim = gen.ct1.in_channels
    state = latent.generate(gen, latent.noise(num, seed, dim), device)
    current = logits(state.to(device))
    uniform = torch.Generator().manual_seed(seed + 5)
    moves = 0
    for step in range(steps):
        proposal = latent.generate(gen, latent.noise(num, seed + 1 + step, dim), device)
        proposed = logits(proposal.to(device))
        accept = torch.rand(num, generator=uniform, dtype=torch.float64).log() < proposed - current
        state[accept], current[accept] = proposal[accept], proposed[accept]
        moves += int(accept.sum())
    return state, {"draws": num * (steps + 1), "acceptance_rate": moves / (num * steps)}


def latent_langevin(gen, logits, device, seed, num, steps=100, stepSize=0.01):
    """Discriminator-driven latent sampling (Che et al., "Your GAN is
    Secretly an Energy-based Model", NeurIPS 2020): Langevin dynamics on
    z for the energy E(z) = |z|^2 / 2 - D~(G(z)), so that G(z) follows
    p_g(x) exp(D~(x)), the data distribution for an optimal D:
    z <- z - stepSize / 2 * grad E(z) + sqrt(stepSize) * noise."""
    dim = gen.ct1.in_channels
    g = torch.Generator().manual_seed(seed + 9)
    gen.eval()
    gen.requires_grad_(False)
    logits.disc.requires_grad_(False)
    out = []
    for z in latent.noise(num, seed, dim).split(BATCH):
        z = z.to(device)
        for _ in range(steps):
            z.requires_grad_(True)
            energy = 0.5 * z.square().sum() - logits.differentiable(gen(z)).sum()
            grad, = torch.autograd.grad(energy, z)
            kick = torch.randn(z.shape, generator=g).to(device)
            z = (z - stepSize / 2 * grad + stepSize ** 0.5 * kick).detach()
        images = latent.generate(gen, z, device)
        if not (torch.isfinite(z).all() and torch.isfinite(images).all()):
            raise UserError(f"latent Langevin sampling diverged: {steps} steps of {stepSize:g} "
                            "moved the noise to values that are not finite numbers, so its "
                            "samples would be blank; give a smaller --langevin-step-size "
                            f"(default: {LANGEVIN_STEP_SIZE:g}) or fewer --langevin-steps")
        out.append(images)
    return torch.cat(out), {"draws": num, "acceptance_rate": 1.0}


def better_samples(settings, gen, disc, realImages, device, seed, num, log=print):
    """`num` samples of the sampler `settings` (a SamplerSettings) names:
    the discriminator calibrated on realImages (uint8, from `seed`), then
    the sampler (from seed + 1). Returns (images in [-1, 1], numbers for
    JSON, a phrase saying what was done); TooFewAccepted when DRS keeps too
    few."""
    steps = settings.calibration_steps()
    logits = calibrate(disc, gen, realImages, device, seed, steps, log=log)
    if settings.sampler == "langevin":
        images, _ = latent_langevin(gen, logits, device, seed + 1, num,
                                    settings.langevinSteps, settings.langevinStepSize)
        numbers = {"steps": settings.langevinSteps, "step_size": settings.langevinStepSize}
        what = (f"latent Langevin sampling ({settings.langevinSteps} steps of "
                f"{settings.langevinStepSize:g})")
    else:
        sampler = RejectionSampler(gen, logits, device, seed + 1,
                                   gammaPercentile=settings.gammaPercentile)
        images, numbers = sampler.sample(num)
        what = (f"discriminator rejection sampling ({numbers['acceptance_rate']:.1%} of "
                f"{numbers['draws']:,} samples kept, gamma {numbers['gamma']:.3f})")
    return images, {**numbers, "calibration_steps": steps}, what


def hopeless(accepted, draws, num, maxDraws):
    """Whether a sampler that kept `accepted` of `draws` should stop asking
    for `num`: at maxDraws, or as soon as (after EARLY_DRAWS) the rate seen
    says that maxDraws will not be enough: seconds, not 25 minutes, for a
    class the generator never draws."""
    if draws >= maxDraws:
        return True
    return draws >= EARLY_DRAWS and (accepted == 0 or num * draws / accepted > maxDraws)


def acceptance_message(accepted, draws, num, maxDraws, accept="a lower --gamma-percentile"):
    """Why a sampler stopped, and what helps: fewer samples (when more than
    one was asked for) or accepting more, by `accept`, the options that
    apply to the sampler (--rejection's by default)."""
    rate = accepted / max(draws, 1)
    said = (f"only {accepted:,} of {draws:,} samples were accepted ({rate:.3%}): {num:,} would "
            f"take about {num / rate:,.0f} draws, over the limit of {maxDraws:,}" if rate else
            f"none of {draws:,} samples were accepted: {num:,} would take more draws than the "
            f"limit of {maxDraws:,}")
    return f"{said}; {'ask for fewer, or accept more' if num > 1 else 'accept more'} ({accept})"
