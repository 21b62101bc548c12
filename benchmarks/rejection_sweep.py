# USAGE
# python benchmarks/rejection_sweep.py --checkpoint /tmp/runs/m15k-s1/checkpoint.pt \
#     --checkpoint /tmp/runs/m15k-s2/checkpoint.pt --json rejection.json

"""Better samples from the same trained networks: every sampler of
pyimagesearch/rejection.py against plain sampling of the same generator,
scored by the project's evaluator (FLD, recall, precision, classes
covered), for one or more checkpoints (e.g. seeds)."""

import argparse
import time

import common  # noqa: F401  (sets up the import path)
from pyimagesearch import files
from pyimagesearch.sampling import rejection  # noqa: E402
from pyimagesearch.checkpoint import (build_discriminator, build_generator, load,  # noqa: E402
                                      trained_with)
from pyimagesearch.data import load_training_data  # noqa: E402
from pyimagesearch.device import describe, select_device  # noqa: E402
from pyimagesearch.quality.metrics import Scorer  # noqa: E402

KEYS = ("fld", "recall", "precision", "density", "coverage", "classes_covered", "inception_score")


def variants(quick, grid=None):
    """name -> (calibration steps, how to sample)."""
    out = {}
    if grid == "langevin":
        for steps in (1000, 3000):
            for n, size in ((100, 0.01), (200, 0.02), (300, 0.05)):
                out[f"Langevin calib {steps} {n}x{size}"] = (steps, ("langevin", n, size))
        return out
    for steps in ((0, 200) if quick else (0, 200, 1000)):
        for pct in ((50, 80) if quick else (50, 80, 95)):
            out[f"DRS calib {steps} gamma p{pct}"] = (steps, ("drs", pct))
    for steps in ((0,) if quick else (0, 1000)):
        out[f"MH-GAN calib {steps} K100"] = (steps, ("mh", 100))
        out[f"Langevin calib {steps} 50x0.01"] = (steps, ("langevin", 50, 0.01))
    return out


def run_one(path, args, device):
    saved = load(path)
    trained = trained_with(saved, path)
    gen, _ = build_generator(path, "live", device, loaded=saved)
    disc = build_discriminator(path, saved, device)
    imageSet, trainedOn = load_training_data(trained.dataset, trained.dataDir, trained.invert,
                                             trained.limit, allowDownload=False,
                                             log=lambda s: None)
    seed = trained.seed
    scorer = Scorer(imageSet, seed=seed, device=device, num=args.num, log=print, trainedOn=trainedOn)
    plain = scorer.score(gen)
    rows = {"plain": {k: plain[k] for k in KEYS}}
    print(f"{path}: plain FLD {plain['fld']:.2f} recall {plain['recall']:.3f}", flush=True)
    calibrated = {}
    for name, (steps, how) in variants(args.quick, args.grid).items():
        started = time.perf_counter()
        if steps not in calibrated:
            calibrated[steps] = rejection.calibrate(disc, gen, scorer.split.heldOutImages, device,
                                                    seed, steps, log=lambda s: None)
        logits = calibrated[steps]
        if how[0] == "drs":
            sampler = rejection.RejectionSampler(gen, logits, device, seed + 1, gammaPercentile=how[1])
            try:
                images, numbers = sampler.sample(args.num)
            except rejection.TooFewAccepted as e:
                rows[name] = {"failed": str(e)}
                print(f"  {name:32s} {e}", flush=True)
                continue
        elif how[0] == "mh":
            images, numbers = rejection.metropolis_hastings(gen, logits, device, seed + 1, args.num,
                                                            how[1])
        else:
            images, numbers = rejection.latent_langevin(gen, logits, device, seed + 1, args.num,
                                                        how[1], how[2])
        scores = scorer.score_images(images)
        rows[name] = {**{k: scores[k] for k in KEYS}, "acceptance_rate": numbers["acceptance_rate"],
                      "seconds": time.perf_counter() - started}
        print(f"  {name:32s} FLD {scores['fld']:8.2f} ({scores['fld'] / plain['fld'] - 1:+6.1%}) "
              f"recall {scores['recall']:.3f} ({scores['recall'] - plain['recall']:+.3f}) "
              f"precision {scores['precision']:.3f} classes {scores['classes_covered']} "
              f"accepted {numbers['acceptance_rate']:.1%} ({rows[name]['seconds']:.0f} s)", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", action="append", required=True)
    ap.add_argument("--num", type=int, default=10_000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="fewer variants")
    ap.add_argument("--grid", choices=("langevin",), default=None,
                    help="instead, a grid of one sampler's settings")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = select_device(args.device)
    print(f"device: {describe(device)}")
    results = {path: run_one(path, args, device) for path in args.checkpoint}
    if args.json:
        files.write_json(args.json, {"device": describe(device), "num": args.num,
                                    "results": results})


if __name__ == "__main__":
    main()
