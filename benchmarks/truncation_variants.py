# USAGE
# python benchmarks/truncation_variants.py --checkpoint pretrained/mnist-conditional --data-dir mnist15k \
#     --out-json benchmarks/results/truncation-variants-shipped.json

"""Where the truncation trick's fidelity comes from: a conditional
generator judged by the evaluator and the referee (as in
truncation_curve.py) with its noise drawn four ways at each T, from the
same seed:

- truncate: the project's (--truncation T): every component beyond
  [-T, T] drawn again, which narrows the noise to the standard deviation
  of a normal truncated at T (0.88 at T = 2, 0.74 at 1.5, 0.54 at 1);
- truncate, variance restored: the same, divided by that deviation, so
  only the tails are cut and the noise is as wide as untruncated;
- truncate, length kept: the same, each vector scaled back to the length
  of the untruncated vector it came from;
- shrink: the untruncated noise times that deviation, so as narrow as
  truncation at T, tails and all.

If cutting the tails were what bought fidelity, the second and third
would keep it; if narrowing the noise is, the fourth matches the first.
A measurement for docs/conditional.md, not a sampler of the project."""

import argparse
import contextlib
import math
import sys

import torch

import truncation_curve
from common import check_output_file     # (common also sets up the import path)
from pyimagesearch import files
from pyimagesearch.errors import as_script, one_line_errors, raise_terminated
from pyimagesearch.sampling import latent


VARIANTS = ("truncate", "truncate, variance restored", "truncate, length kept", "shrink")


def truncated_std(T):
    """The standard deviation of a standard normal truncated to [-T, T]."""
    density = math.exp(-T * T / 2) / math.sqrt(2 * math.pi)
    return math.sqrt(1 - 2 * T * density / math.erf(T / math.sqrt(2)))


def variant_noise(variant, untouched):
    """latent.noise drawn the way `variant` names (untouched: the
    project's own latent.noise, which it calls)."""
    def noise(num, seed, dim=latent.NOISE_DIM, truncation=None):
        z = untouched(num, seed, dim, truncation)
        if truncation is None or variant == "truncate":
            return z
        plain = untouched(num, seed, dim, None)
        if variant == "shrink":
            return plain * truncated_std(truncation)
        if variant == "truncate, variance restored":
            return z / truncated_std(truncation)
        lengths = plain.flatten(1).norm(dim=1) / z.flatten(1).norm(dim=1)
        return z * lengths.view(-1, *[1] * (z.dim() - 1))
    return noise


@contextlib.contextmanager
def noise_drawn(variant):
    """Every sampler that calls latent.noise (the evaluator's Scorer and
    the referee's judge) draws it the way `variant` names, within."""
    untouched = latent.noise
    latent.noise = variant_noise(variant, untouched)
    try:
        yield
    finally:
        latent.noise = untouched


def table(results):
    lines = [f"{'noise':<28} {'T':>5}  {'evaluator':>9} {'worst':>10}  {'FLD':>6} {'x':>6}  "
             f"{'referee':>8} {'worst':>10}  {'FLD':>5} {'x':>6}  {'recall':>6}"]
    for variant, rows in results.items():
        base = rows[0]
        for r in rows:
            T = "none" if r["truncation"] is None else f"{r['truncation']:g}"
            lines.append(
                f"{variant:<28} {T:>5}  {r['as_asked']:>9.2%} "
                f"{r['worst_class']}: {r['worst_as_asked']:>6.1%}  {r['fld']:>6.2f} "
                f"{r['fld'] / base['fld']:>5.2f}x  {r['referee_as_asked']:>8.2%} "
                f"{r['referee_worst_class']}: {r['referee_worst_as_asked']:>6.1%}  "
                f"{r['referee_fld']:>5.2f} {r['referee_fld'] / base['referee_fld']:>5.2f}x  "
                f"{r['recall']:>6.3f}")
    return lines


@one_line_errors
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    truncation_curve.add_judging_arguments(ap, (2.0, 1.5, 1.0))
    ap.add_argument("--out-json", default=None,
                    help="also write the numbers to this .json file (a file of that name is "
                         "replaced, and the line says so)")
    args = ap.parse_args(argv)
    if args.out_json is not None:
        check_output_file(ap, "--out-json", args.out_json, ".json")

    def log(line):
        print(line, file=sys.stderr, flush=True)

    results, about = {}, None
    for variant in VARIANTS:
        log(f"[INFO] noise: {variant}")
        with noise_drawn(variant):
            rows, about, _, _ = truncation_curve.curve_rows(
                args.checkpoint, args.data_dir, args.truncations, args.per_class, args.seed, log)
        results[variant] = [{k: v for k, v in r.items() if k != "referee_per_class"}
                            for r in rows]
    for line in table(results):
        print(line)
    if args.out_json is not None:
        said = files.replaced(args.out_json)
        files.write_json(args.out_json, {**about, "truncated_std": {
            str(T): truncated_std(T) for T in args.truncations}, "variants": results})
        log(f"[INFO] wrote {args.out_json}{said}")


if __name__ == "__main__":
    sys.exit(as_script(main, raise_terminated))    # SIGTERM: one line, status 143
