"""The README's two screenshots: the demo page (demo.py, by default on the
shipped conditional generator, at its recommended truncation) and, with
--tensorboard, TensorBoard on a run's --tensorboard folder, each served
locally and photographed in a headless Chromium (the distribution's:
apt-get install chromium). docs/pretrained.md gives the run behind the
shipped generator; with a run of yours and its TensorBoard events:

    python dcgan_mnist.py --output conditional --data-dir mnist15k --seed 2 --eval-every 20 \\
        --tensorboard --conditional --recipe better --ema 0.99 --epochs 80
    python docs/make_screenshots.py --tensorboard conditional/tensorboard
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "docs", "images")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(command, url, timeout=300):
    """Start `command`; return the process once `url` answers."""
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{' '.join(command)} ended with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    sys.exit(f"{url} never answered")


def small_png(path, width):
    """Scaled to `width` pixels and saved with a 128-colour palette."""
    image = Image.open(path).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=128).save(path, optimize=True)


def demo(browser, checkpoint, digit):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    shown = ["--checkpoint", checkpoint] if checkpoint else []       # none: the shipped one
    proc = serve([sys.executable, "demo.py", *shown, "--port", str(port)], url)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#grid img", timeout=120_000)
        page.click("#digit input")
        page.locator("[role=option]", has_text=digit).first.click()
        page.click("#give")
        page.wait_for_selector("#chosen img", timeout=120_000)
        page.fill("#morph input[type=number]", "0.5")
        page.press("#morph input[type=number]", "Enter")
        page.wait_for_timeout(3000)
        path = os.path.join(IMAGES, "demo.png")
        page.screenshot(path=path, full_page=True)
        page.close()
    finally:
        proc.terminate()
    small_png(path, 900)
    return path


def tensorboard(browser, folder):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = serve([sys.executable, "-m", "tensorboard.main", "--logdir", folder, "--host",
                  "127.0.0.1", "--port", str(port)], url)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1150})
        page.goto(url + "#timeseries")
        page.wait_for_timeout(6000)                       # the charts draw themselves
        settings = page.get_by_role("button", name="Settings")
        if page.get_by_text("Horizontal Axis").count():   # its side pane: closed
            settings.first.click()
        page.get_by_role("combobox", name="Filter tags (regex)").fill("^(loss|verdict|montage)")
        page.keyboard.press("Escape")                     # its suggestions, closed
        page.mouse.click(700, 1100)
        page.wait_for_timeout(4000)
        path = os.path.join(IMAGES, "tensorboard.png")
        page.screenshot(path=path)
        page.close()
    finally:
        proc.terminate()
    small_png(path, 1000)
    return path


def main():
    from playwright.sync_api import sync_playwright
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", default=None,
                    help="what the demo opens (default: none given: the shipped generator)")
    ap.add_argument("--tensorboard", default=None,
                    help="the run's --tensorboard folder (default: none, only the demo's screenshot)")
    ap.add_argument("--digit", default="7", help="the class the demo is asked for (default: 7)")
    ap.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium",
                    help="Chromium's path (default: chromium on the PATH)")
    args = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.browser, headless=True,
                                    args=["--no-sandbox"])
        paths = [demo(browser, args.checkpoint, args.digit)]
        if args.tensorboard:
            paths.append(tensorboard(browser, args.tensorboard))
        for path in paths:
            print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")
        browser.close()


if __name__ == "__main__":
    main()
