"""The samplers' command-line options (generate.py and evaluate.py share
them) and the settings they make: a `SamplerSettings`, which is what the
library takes, never the parsed arguments themselves."""

from dataclasses import dataclass

from ..cli import count_up_to, percentile, positive_float_up_to, truncation
from ..noise import MAX_TRUNCATION, MIN_TRUNCATION
from .rejection import (CALIBRATION_STEPS, GAMMA_PERCENTILE, LANGEVIN_CALIBRATION_STEPS,
                        LANGEVIN_STEP_SIZE, LANGEVIN_STEPS, MAX_CALIBRATION_STEPS,
                        MAX_LANGEVIN_STEP_SIZE, MAX_LANGEVIN_STEPS)


@dataclass(frozen=True)
class SamplerSettings:
    """Which sampler, and its settings (rejection.better_samples)."""
    sampler: str = None                  # "rejection", "langevin" or None (plain sampling)
    calibrationSteps: int = None         # None: the sampler's own default
    gammaPercentile: float = GAMMA_PERCENTILE
    langevinSteps: int = LANGEVIN_STEPS
    langevinStepSize: float = LANGEVIN_STEP_SIZE

    def calibration_steps(self):
        if self.calibrationSteps is not None:
            return self.calibrationSteps
        return LANGEVIN_CALIBRATION_STEPS if self.sampler == "langevin" else CALIBRATION_STEPS


def sampler_settings(args):
    """The SamplerSettings of the options add_sampler_options added (args:
    the parsed Namespace)."""
    return SamplerSettings(
        sampler="rejection" if args.rejection else "langevin" if args.langevin else None,
        calibrationSteps=args.calibration_steps, gammaPercentile=args.gamma_percentile,
        langevinSteps=args.langevin_steps, langevinStepSize=args.langevin_step_size)


def add_sampler_options(ap, what):
    """--rejection or --langevin, and their settings
    (sampling/rejection.py, docs/rejection.md). `what`: what the
    script does with their samples ("draw", "also score")."""
    group = ap.add_argument_group("samplers that use the discriminator (need a checkpoint.pt)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--rejection", action="store_true",
        help=f"{what} the samples discriminator rejection sampling keeps (default: off)")
    which.add_argument("--langevin", action="store_true",
        help=f"{what} samples moved in the latent space by Langevin steps on the "
             "discriminator's verdict, the one sampler that lowered FLD here "
             "(default: off)")
    group.add_argument("--calibration-steps", type=count_up_to(MAX_CALIBRATION_STEPS, 0),
        default=None,
        help="batches the discriminator is trained on, G fixed, before Platt "
             f"scaling, 0 to {MAX_CALIBRATION_STEPS} (default: {CALIBRATION_STEPS} with "
             f"--rejection, {LANGEVIN_CALIBRATION_STEPS} with --langevin)")
    group.add_argument("--gamma-percentile", type=percentile, default=GAMMA_PERCENTILE,
        help="with --rejection: the shift gamma as a percentile of F(x) over the "
             f"burn-in samples; higher keeps fewer (default: {GAMMA_PERCENTILE:g})")
    group.add_argument("--langevin-steps", type=count_up_to(MAX_LANGEVIN_STEPS),
        default=LANGEVIN_STEPS,
        help=f"with --langevin: how many steps, 1 to {MAX_LANGEVIN_STEPS} (default: "
             f"{LANGEVIN_STEPS})")
    group.add_argument("--langevin-step-size", type=positive_float_up_to(MAX_LANGEVIN_STEP_SIZE),
        default=LANGEVIN_STEP_SIZE,
        help=f"with --langevin: the step size, above 0 and at most {MAX_LANGEVIN_STEP_SIZE:g} "
             f"(default: {LANGEVIN_STEP_SIZE:g})")


TRUNCATION_HELP = (
    "the truncation trick{what}: the noise drawn from a normal truncated to [-T, T] (every "
    "component beyond T drawn again), fewer odd samples for less variety; the lower T, "
    "the more faithful and alike (1.5 is a good start; from {low:g} to {high:g}; the same "
    "--seed and T give the same noise, whose values within T are the untruncated noise's) "
    "(default: {default})")


def add_truncation_option(ap, what="", default="off"):
    """--truncation T (None when not given); `what` says to what it
    applies, e.g. " for every sample drawn"; `default` what happens
    without it."""
    ap.add_argument("--truncation", type=truncation, default=None, metavar="T",
                    help=TRUNCATION_HELP.format(what=what, low=MIN_TRUNCATION,
                                                high=MAX_TRUNCATION, default=default))


def truncation_said(value):
    """'untruncated' or 'truncated at T = 1.5', for lines and tables."""
    if value is None or value >= MAX_TRUNCATION:
        return "untruncated"
    return f"truncated at T = {value:g}"
