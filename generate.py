# USAGE
# python generate.py --checkpoint output/checkpoint.pt --output samples.png
# python generate.py --checkpoint output/generator.pth --output samples.png \
#     --num 100 --individual digits/ --interpolate walk.gif

"""Draw new digits from a trained generator: a montage, one PNG per digit,
and a GIF walking the latent space."""

import argparse
import os
import sys

from pyimagesearch import sampling, visualize
from pyimagesearch.checkpoint import build_generator
from pyimagesearch.device import DEVICES, describe, select_device
from pyimagesearch.errors import one_line_errors
from pyimagesearch.files import write_image
from pyimagesearch.options import check_writable_file, positive_int, random_seed

MAX_NUM = 10_000          # a 100x100 montage, 2800x2800 pixels


def build_arg_parser():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", required=True,
        help="a checkpoint.pt or generator.pth of dcgan_mnist.py, or a generator "
             "state_dict saved by the article's code")
    ap.add_argument("--output", required=True,
        help="the montage to write, e.g. samples.png")
    ap.add_argument("--num", type=positive_int, default=64,
        help="how many digits, at most 10000; the montage is the smallest square "
             "grid that holds them (default: 64, an 8x8 grid)")
    ap.add_argument("--seed", type=random_seed, default=0,
        help="seed of the noise: the same seed gives the same digits (default: 0)")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to run the generator (default: auto)")
    ap.add_argument("--weights", choices=("auto", "ema", "live"), default="auto",
        help="which generator of a checkpoint: its EMA copy (--ema runs) or the "
             "trained one; auto = EMA when there is one (default: auto)")
    ap.add_argument("--individual", metavar="DIR", default=None,
        help="also write each digit as DIR/digit_0000.png, ... (default: off)")
    ap.add_argument("--interpolate", metavar="GIF", default=None,
        help="also write a GIF walking the latent space of every cell between "
             "random points by spherical interpolation (default: off)")
    ap.add_argument("--keyframes", type=positive_int, default=5,
        help="random points each cell of the walk visits (default: 5)")
    ap.add_argument("--steps", type=positive_int, default=12,
        help="frames from one point of the walk to the next (default: 12)")
    return ap


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    if args.num > MAX_NUM:
        ap.error(f"argument --num: at most {MAX_NUM:,} (a {MAX_NUM ** 0.5:.0f}x"
                 f"{MAX_NUM ** 0.5:.0f} montage), got {args.num:,}")
    check_writable_file(ap, "--output", args.output, ".png")
    if args.interpolate:
        check_writable_file(ap, "--interpolate", args.interpolate, ".gif")
    if args.individual and os.path.exists(args.individual) and not os.path.isdir(args.individual):
        ap.error(f"argument --individual: {args.individual} is a file")
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")

    gen, description = build_generator(args.checkpoint, args.weights, DEVICE)
    print(f"[INFO] {description}, on {describe(DEVICE)}")

    # the montage: --num digits from --seed
    noiseDim = gen.ct1.in_channels            # 100 for the article's generator
    images = sampling.generate(gen, sampling.noise(args.num, args.seed, noiseDim), DEVICE)
    write_image(args.output, visualize.build_montage(images))
    print(f"[INFO] wrote {args.num} digits to {args.output}")

    if args.individual:
        os.makedirs(args.individual, exist_ok=True)
        for i, image in enumerate(visualize.to_uint8_images(images)):
            write_image(os.path.join(args.individual, f"digit_{i:04d}.png"),
                                  image[:, :, 0])
        print(f"[INFO] wrote {args.num} single digits to {args.individual}")

    if args.interpolate:
        walk = sampling.latent_walk(args.num, args.keyframes, args.steps, args.seed, noiseDim)
        frames = [visualize.build_montage(sampling.generate(gen, z, DEVICE))
                  for z in walk]                 # (frames) x (H, W, 3) uint8
        visualize.write_gif_frames(frames, args.interpolate, duration=80)
        print(f"[INFO] wrote a {len(frames)}-frame latent walk to {args.interpolate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
