# USAGE
# python demo.py --checkpoint output/checkpoint.pt
# python demo.py --checkpoint output/generator.pth --port 7861
# python demo.py --checkpoint my-dcgan          (a folder of generate.py --export)

"""A local web page to play with a trained generator: new samples for a
seed, the Langevin sampler as a switch, "give me a 7", a slider that morphs
one sample into another. Trains nothing unless asked."""

import argparse
import socket
import sys

from pyimagesearch.cli import nonnegative_int
from pyimagesearch.data.options import add_real_image_options
from pyimagesearch.device import DEVICES, describe, select_device
from pyimagesearch.errors import UserError, one_line_errors
from pyimagesearch.sharing.playground import Playground

DEFAULT_PORT = 7860          # Gradio's


def port_number(text):
    value = nonnegative_int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port from 1 to 65535, got {value}")
    return value


def build_arg_parser():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", required=True,
        help="a checkpoint.pt (every part of the page), a generator.pth or a folder of "
             "generate.py --export (no Langevin sampler: it needs the discriminator)")
    ap.add_argument("--port", type=port_number, default=DEFAULT_PORT,
        help=f"the local port of the page (default: {DEFAULT_PORT})")
    ap.add_argument("--host", default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 shares the page with your network "
             "(default: 127.0.0.1, this machine only)")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to run the generator (default: auto)")
    ap.add_argument("--weights", choices=("auto", "ema", "live"), default="auto",
        help="which generator of a checkpoint: auto = its EMA copy when there is one "
             "(default: auto)")
    ap.add_argument("--calibration-steps", type=nonnegative_int, default=0,
        help="the Langevin sampler's discriminator training before Platt scaling; 0 uses "
             "the checkpoint's as it is, in seconds (default: 0)")
    add_real_image_options(ap, "for the Langevin sampler and the digits")
    return ap


def check_port(host, port):
    """UserError when nothing can listen on host:port (in use, or not ours)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}): another "
                            "program may be using it; pass --port with a free one") from None


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")
    check_port(args.host, args.port)
    play = Playground(args.checkpoint, DEVICE, args.weights,
                      (args.dataset, args.data_dir, args.invert),
                      allowDownload=not args.no_download,
                      calibrationSteps=args.calibration_steps)
    for line in play.summary():
        print(f"[INFO] {line}")
    print(f"[INFO] on {describe(DEVICE)}")

    from pyimagesearch.sharing.page import build_page   # imports Gradio (seconds): after the checks
    page = build_page(play)
    check_port(args.host, args.port)          # still free after the loading
    print(f"[INFO] the demo page: http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    try:
        page.launch(server_name=args.host, server_port=args.port, quiet=True,
                    show_error=True, inbrowser=False)
    except OSError as e:
        raise UserError(f"cannot start the page on {args.host}:{args.port} ({e})") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
