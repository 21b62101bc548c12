# USAGE
# python demo.py                               (the shipped conditional generator)
# python demo.py --checkpoint output/checkpoint.pt
# python demo.py --checkpoint output/generator.pth --port 7861
# python demo.py --checkpoint my-dcgan          (a folder of generate.py --export)
# DCGAN_DEMO_AUTH=me:secret python demo.py --checkpoint output/checkpoint.pt --host 0.0.0.0

"""A local web page to play with a trained generator: new samples for a
seed, the Langevin sampler as a switch, "give me a 7", a slider that morphs
one sample into another. Trains nothing unless asked."""

import argparse
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

from pyimagesearch.cli import count_up_to, nonnegative_int
from pyimagesearch.data.options import add_real_image_options, check_named_data_dir
from pyimagesearch.device import DEVICES, describe, select_device
from pyimagesearch.errors import UserError, exit_for, one_line_errors, raise_terminated, shorten
from pyimagesearch.exported import shipped_generator
from pyimagesearch.sampling.rejection import MAX_CALIBRATION_STEPS
from pyimagesearch.sharing.playground import Playground

DEFAULT_PORT = 7860          # Gradio's
AUTH_VARIABLE = "DCGAN_DEMO_AUTH"     # USER:PASSWORD, kept out of the shell's history
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# nothing on the page takes a file, but Gradio's /gradio_api/upload takes any
# (300 MB in a second, kept after the server stops): a token limit
MAX_UPLOAD = "1kb"


def port_number(text):
    """argparse type: a port, 1 to 65535: one rule for whatever is not one."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got "
                                         f"{shorten(repr(text), 60)}")
    return value


def login(text):
    """argparse type: USER:PASSWORD as the (user, password) Gradio asks for."""
    user, colon, password = text.partition(":")
    if not (colon and user and password):
        raise argparse.ArgumentTypeError("must be USER:PASSWORD, both non-empty")
    if user != user.strip() or password != password.strip():
        raise argparse.ArgumentTypeError("must be USER:PASSWORD without spaces at the start or "
                                         "end of either (the login form drops the user's)")
    return user, password


def build_arg_parser():
    ap = argparse.ArgumentParser(description=__doc__.strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None,
        help="a checkpoint.pt (every part of the page), a generator.pth or a folder of "
             "generate.py --export (no Langevin sampler: it needs the discriminator) "
             "(default: the shipped conditional generator, pretrained/mnist-conditional)")
    ap.add_argument("--port", type=port_number, default=DEFAULT_PORT,
        help=f"the local port of the page (default: {DEFAULT_PORT})")
    ap.add_argument("--host", default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 shares the page with your network, "
             "without a password unless --auth (default: 127.0.0.1, this machine only)")
    ap.add_argument("--auth", type=login, metavar="USER:PASSWORD",
        help=f"ask for this login before showing the page; the environment variable "
             f"{AUTH_VARIABLE}=USER:PASSWORD does the same without the password in the shell's "
             "history (default: no login)")
    ap.add_argument("--device", choices=DEVICES, default="auto",
        help="where to run the generator (default: auto)")
    ap.add_argument("--weights", choices=("auto", "ema", "live"), default="auto",
        help="which generator of a checkpoint: auto = its EMA copy when there is one "
             "(default: auto)")
    ap.add_argument("--calibration-steps", type=count_up_to(MAX_CALIBRATION_STEPS, 0), default=0,
        help="the Langevin sampler's discriminator training steps before Platt scaling, at "
             f"most {MAX_CALIBRATION_STEPS}; 0 uses the checkpoint's discriminator as it is "
             "(default: 0)")
    add_real_image_options(ap, "for the Langevin sampler and the digits")
    return ap


def address_of(host, port):
    """The (family, address) to listen on at host:port, or UserError naming
    the host when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise UserError(f"cannot find the host {host!r} ({shorten(getattr(e, 'strerror', None) or e)}): "
                        "pass --host with an address of this machine, e.g. 127.0.0.1") from None
    family, _, _, _, address = found[0]
    return family, address


def check_port(host, port):
    """UserError when nothing can listen on host:port (no such host, in use,
    or not ours)."""
    family, address = address_of(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:    # an address of another machine
                raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}): {host} is "
                                "not an address of this machine; pass --host with one that is, "
                                "e.g. 127.0.0.1 or 0.0.0.0 (every address)") from None
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}): another "
                            "program may be using it; pass --port with a free one") from None


def login_of(args, ap):
    """--auth, else the environment's DCGAN_DEMO_AUTH, else None."""
    if args.auth or not os.environ.get(AUTH_VARIABLE):
        return args.auth
    try:
        return login(os.environ[AUTH_VARIABLE])
    except argparse.ArgumentTypeError as e:
        ap.error(f"the environment variable {AUTH_VARIABLE} {e}")


def page_url(host, port):
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(page, host, port, auth, appKwargs=None):
    """Launch the page and wait for Ctrl-C or SIGTERM; then close it. A
    signal while Gradio is still starting (its server may already answer
    while launch() goes on checking it) stops it the same way. appKwargs:
    Gradio's for its FastAPI app (page.guarded(): the login's and uploads'
    bounds)."""
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so a local
    # process, or a proxy that passes a client's header on, could claim any
    # address and dodge the login's lockout: believed only where the user
    # names the proxy in FORWARDED_ALLOW_IPS (docs/sharing.md)
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    try:
        try:   # Gradio takes an IPv6 address in brackets, as a URL has it
            page.launch(server_name=f"[{host}]" if ":" in host else host, server_port=port,
                        quiet=True, inbrowser=False,
                        auth=auth, max_file_size=MAX_UPLOAD, prevent_thread_lock=True,
                        enable_monitoring=False,   # /monitoring prints its secret URL for anyone who asks
                        run_history=False,         # nothing to review: the page is its own history
                        app_kwargs=appKwargs)
        except OSError as e:
            raise UserError(f"cannot start the page on {host}:{port} ({e})") from None
        while page.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:          # Ctrl-C, or SIGTERM (errors.Terminated): the way to stop
        print("\n[INFO] the demo page stopped", file=sys.stderr, flush=True)
    finally:
        page.close(verbose=False)


@one_line_errors
def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    check_named_data_dir(ap, args)
    auth = login_of(args, ap)
    try:
        DEVICE = select_device(args.device)
    except ValueError as e:
        ap.error(f"argument --device: {e}")
    check_port(args.host, args.port)
    if args.host not in LOOPBACK and auth is None:
        print(f"[WARNING] --host {args.host}: anyone on your network can use the page, without a "
              f"password; pass --auth USER:PASSWORD (or set {AUTH_VARIABLE}) to ask for one",
              file=sys.stderr, flush=True)
    try:
        return start_and_serve(args, auth, DEVICE)
    except KeyboardInterrupt as e:     # Ctrl-C or SIGTERM before the page was served
        raise exit_for(e, interrupted="interrupted while the demo was starting: no page was "
                                      "served, no file written") from None


def start_and_serve(args, auth, DEVICE):
    """Load the generator, build the page, serve it until Ctrl-C."""
    if args.checkpoint is None:
        args.checkpoint, line = shipped_generator()
        print(f"[INFO] {line}")
    play = Playground(args.checkpoint, DEVICE, args.weights,
                      (args.dataset, args.data_dir, args.invert),
                      allowDownload=not args.no_download,
                      calibrationSteps=args.calibration_steps)
    for line in play.summary():
        print(f"[INFO] {line}")
    print(f"[INFO] on {describe(DEVICE)}")

    # Gradio's files (the images shown, anything posted to it) go to a folder
    # of this server's own, deleted when it stops; Gradio reads the variable
    # when it is imported and when the page is built
    scratch = tempfile.mkdtemp(prefix="dcgan-demo-")
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = scratch
    previous = signal.signal(signal.SIGTERM, raise_terminated)    # SIGTERM stops as Ctrl-C
    try:
        from pyimagesearch.sharing.page import build_page, guarded   # imports Gradio (seconds): after the checks
        page = build_page(play)
        check_port(args.host, args.port)          # still free after the loading
        print(f"[INFO] the demo page: {page_url(args.host, args.port)} (Ctrl-C stops it)",
              flush=True)
        serve(page, args.host, args.port, auth, guarded())
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(scratch, ignore_errors=True)
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before
    return 0


if __name__ == "__main__":
    sys.exit(main())
