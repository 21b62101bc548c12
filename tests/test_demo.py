"""demo.py: what the page can do from each kind of file (the Playground,
in milliseconds), and the page itself as a person uses it: started on a
free local port, driven in a real headless Chromium through seed, digit and
morph, the images changing and no error shown, then stopped."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import ROOT, default_signals, make_idx_folder, one_line, run_script, train
from pyimagesearch.errors import UserError
from pyimagesearch.sharing.playground import MORPH_STEPS, Playground

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SCREENSHOT = os.environ.get("DCGAN_DEMO_SCREENSHOT")      # where to keep the page's picture


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, "-e", "1", "-b", "32").returncode == 0
    return root


def playground(path, data):
    return Playground(str(path), real=(None, str(data), None), log=lambda line: None)


def most_common_class(play, confidence, num=1000):
    """The class the evaluator gives most of `num` samples with at least
    `confidence` (what the test can ask the page for and get)."""
    from pyimagesearch.quality.evaluator import predict
    from pyimagesearch.sampling import latent
    images = latent.generate(play.gen, latent.noise(num, 0, play.inputDim), "cpu")
    _, probs = predict(play.selector.model, images, "cpu")
    best, label = probs.max(1)
    counts = np.bincount(label[best >= confidence].numpy(), minlength=len(play.classes))
    return play.classes[int(counts.argmax())]


def test_a_checkpoint_serves_every_part(run):
    play = playground(run / "run" / "checkpoint.pt", run / "data")
    assert play.whyNoLangevin is None
    a, b = play.grid(0, 16), play.grid(1, 16)
    assert a.shape[2] == 3 and a.shape[0] >= 448 and not np.array_equal(a, b)
    assert np.array_equal(play.grid(0, 16), a)                 # the same seed, the same images
    assert not np.array_equal(play.grid(0, 16, langevin=True), a)
    path = play.morph_path(1, 2)
    assert len(path) == MORPH_STEPS + 1
    assert not np.array_equal(play.frame(path, 0), play.frame(path, 1))


def test_the_digits_wait_for_the_evaluator_until_asked(run, private_cache):
    play = playground(run / "run" / "checkpoint.pt", run / "data")
    assert "not trained for these images yet" in play.whyNoDigits
    with pytest.raises(UserError, match="choosing a class is off"):
        play.digit("7", 0)
    assert "right on held-out real images" in play.train_evaluator()
    name = most_common_class(play, 0.1)
    image, said = play.digit(name, 0, 4, 0.1)
    assert image.shape[2] == 3 and f"are a {name}" in said
    assert playground(run / "run" / "checkpoint.pt", run / "data").whyNoDigits is None   # cached


def test_weights_alone_grey_out_the_langevin_sampler(run, tmp_path):
    assert run_script("generate.py", "--checkpoint", run / "run" / "checkpoint.pt",
                      "--export", tmp_path / "export").returncode == 0
    checkpoint = playground(run / "run" / "checkpoint.pt", run / "data")
    for path in (run / "run" / "generator.pth", tmp_path / "export"):
        play = playground(path, run / "data")
        assert "generator's weights only" in play.whyNoLangevin
        with pytest.raises(UserError, match="the Langevin sampler is off"):
            play.grid(0, 16, langevin=True)
        assert np.array_equal(play.grid(3, 16), checkpoint.grid(3, 16))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_in_use_is_one_line(run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        result = run_script("demo.py", "--checkpoint", run / "run" / "checkpoint.pt",
                            "--port", s.getsockname()[1])
    assert result.returncode == 1
    assert "pass --port with a free one" in one_line(result.stderr)


def browser():
    """Chromium's path, or skip saying how to install it."""
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                        "(pip install -r requirements.txt)")
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium to drive: install the distribution's (apt-get install chromium); "
                ".ci/run does")


def wait_for_page(url, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the demo page never answered at {url}")


@pytest.mark.slow
def test_the_page_in_a_real_browser(run, private_cache):
    from playwright.sync_api import sync_playwright
    chromium = browser()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "demo.py", "--checkpoint",
                             str(run / "run" / "checkpoint.pt"), "--data-dir", str(run / "data"),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        wait_for_page(url, proc)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(url)

            def src(element):
                page.wait_for_selector(f"#{element} img", timeout=60_000)
                return page.locator(f"#{element} img").get_attribute("src")

            def changes(element, before):
                page.wait_for_function(
                    "([e, s]) => { const i = document.querySelector(`#${e} img`); "
                    "return i && i.src !== s; }", arg=[element, before], timeout=60_000)

            # a new seed draws new samples
            first = src("grid")
            page.fill("#seed input", "5")
            page.press("#seed input", "Enter")
            changes("grid", first)
            # the digits: off until the evaluator is trained, on asking
            assert page.locator("#give").is_disabled()
            assert "not trained for these images yet" in page.inner_text("#digit-why")
            page.click("#train-evaluator")
            page.wait_for_selector("#give:not([disabled])", timeout=300_000)
            name = most_common_class(playground(run / "run" / "checkpoint.pt", run / "data"), 0.1)
            page.click("#digit input")
            page.locator("[role=option]", has_text=name).first.click()
            page.fill("#confidence input[type=number]", "0.1")
            page.press("#confidence input[type=number]", "Enter")
            page.click("#give")
            src("chosen")
            page.wait_for_function(
                "n => document.querySelector('#digit-said').innerText.includes(`are a ${n}`)",
                arg=name, timeout=60_000)
            # the morph's slider moves from one sample to the other
            start = src("morphed")
            page.fill("#morph input[type=number]", "1")
            page.press("#morph input[type=number]", "Enter")
            changes("morphed", start)
            assert page.locator(".toast-body").count() == 0          # no error shown
            if SCREENSHOT:
                page.screenshot(path=SCREENSHOT, full_page=True)
            b.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out
