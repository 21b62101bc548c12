"""demo.py: what the page can do from each kind of file (the Playground,
in milliseconds), and the page itself as a person uses it: started on a
free local port, driven in a real headless Chromium through seed, digit and
morph, the images changing and no error shown, then stopped. What a
stranger could send it: uploads, bad values through the API, no login."""

import concurrent.futures
import contextlib
import http.cookiejar
import json
import math
import os
import signal
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from conftest import (ROOT, default_signals, make_idx_folder, one_line, run_script, train,
                      usage_error)
from pyimagesearch.data import DataError
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


def test_a_data_dir_the_user_names_must_hold_the_images(run, tmp_path):
    # not the embedded digits instead, nor the digits greyed out in silence
    with pytest.raises(DataError, match=r"nowhere \(no such folder\)"):
        playground(run / "run" / "checkpoint.pt", tmp_path / "nowhere")


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


def wait_for_page(url, proc, timeout=180, ok=(200,)):
    """Until `url` answers with a status in `ok` (401: it asks for a login)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok:
                    return
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
            time.sleep(0.5)
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the demo page never answered at {url}")


def start_demo(root, port):
    """demo.py on `root`'s run/checkpoint.pt (and its data/), in the background."""
    return subprocess.Popen([sys.executable, "demo.py", "--checkpoint",
                             str(root / "run" / "checkpoint.pt"), "--data-dir", str(root / "data"),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


@pytest.mark.slow
def test_the_page_in_a_real_browser(run, private_cache):
    from playwright.sync_api import sync_playwright
    chromium = browser()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_demo(run, port)
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


# ------------------------------------------------ what a stranger could send

BAD_SEEDS = {1e30: "got 1e+30", -5: "got -5", 2**70: f"got {2**70}", None: "is empty",
             "": "is empty", math.nan: "got nan", "abc": "got 'abc'", 2.5: "got 2.5"}
SEEDS_SAID = "the seed must be an integer from 0 to 2**63 - 1"


def test_the_playground_refuses_bad_values_in_words(run):
    from pyimagesearch.sharing.playground import next_seed   # here: the other tests run without it
    play = playground(run / "run" / "checkpoint.pt", run / "data")
    for seed, said in BAD_SEEDS.items():
        for ask in (lambda: play.grid(seed, 16), lambda: play.morph_path(seed, 2),
                    lambda: next_seed(seed)):
            with pytest.raises(UserError, match="the seed (must be|is empty)") as e:
                ask()
            assert said in str(e.value) and "2**63 - 1" in str(e.value)
    assert play.grid(2**63 - 1, 4).shape[2] == 3 and next_seed(2**63 - 1) == 0
    for num in (0, 101, "many", math.inf, None):
        with pytest.raises(UserError, match="the number of samples"):
            play.grid(0, num)
    with pytest.raises(UserError, match="the Langevin switch must be true or false"):
        play.grid(0, 16, "yes")
    path = play.morph_path(1, 2)
    for t in (math.nan, -0.1, 2, "x", None):
        with pytest.raises(UserError, match="the morph's position"):
            play.frame(path, t)
    with pytest.raises(UserError, match="a morph's class must be the name of a class"):
        play.morph_path(1, 2, "7" * 5000)


def post_file(url, size, files=1):
    """POST `files` files of `size` bytes to Gradio's upload route; the HTTP status."""
    boundary = "dcgan-test-boundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body = (part + b"x" * size + b"\r\n") * files + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "gradio_api/upload", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def post(url, body):
    """(status, text) of a POST of JSON `body` (a GET when None)."""
    request = urllib.request.Request(url, data=None if body is None else body.encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def call_api(url, route, raw):
    """Gradio's plain HTTP API: POST the values `raw` (JSON text), then read
    the event's answer."""
    status, text = post(url + f"gradio_api/call/{route}", '{"data": %s}' % raw)
    assert status == 200, text
    return post(url + f"gradio_api/call/{route}/{json.loads(text)['event_id']}", None)[1]


@contextlib.contextmanager
def serving(run, *extra, host="127.0.0.1", env=None):
    """demo.py on a free port as a real server (a subprocess): yields its
    URL and the process; stopped after with SIGTERM (unless the test
    stopped it), its whole output then in proc.output."""
    port = free_port()
    url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    proc = subprocess.Popen([sys.executable, "demo.py", "--checkpoint",
                             str(run / "run" / "checkpoint.pt"), "--data-dir", str(run / "data"),
                             "--port", str(port), "--host", host, *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=default_signals,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
    try:
        wait_for_page(url, proc, ok=(200, 401))
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.output, _ = proc.communicate(timeout=60)


def test_uploads_are_refused_and_gradio_files_go_with_the_server(run, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with serving(run, env={"TMPDIR": str(scratch)}) as (url, proc):
        assert post_file(url, 2_000_000) == 413            # nothing on the page takes a file
        assert post_file(url, 10, files=500) == 429         # 500 files: more than 20 an hour
        assert post_file(url, 10) == 429
        assert [p.name.startswith("dcgan-demo-") for p in scratch.iterdir()] == [True]
    assert proc.returncode == 0, proc.output
    assert "[INFO] the demo page stopped" in proc.output
    assert list(scratch.iterdir()) == [], "Gradio's files outlived the server"
    assert "Traceback" not in proc.output, proc.output


def test_a_login_keeps_the_page_closed(run):
    with serving(run, env={"DCGAN_DEMO_AUTH": "me:secret word"}) as (url, proc):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + "config", timeout=30)
        assert e.value.code == 401
        cookies = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        for password, ok in (("wrong", False), ("secret word", True)):
            form = urllib.parse.urlencode({"username": "me", "password": password}).encode()
            try:
                cookies.open(url + "login", data=form, timeout=30)
            except urllib.error.HTTPError as e:
                assert not ok and e.code in (400, 401), e
        with cookies.open(url + "config", timeout=30) as response:
            assert response.status == 200 and "dependencies" in json.load(response)
        proc.send_signal(signal.SIGINT)                     # Ctrl-C
        assert proc.wait(timeout=60) == 0
    assert "[INFO] the demo page stopped" in proc.output and "Traceback" not in proc.output
    assert "[WARNING]" not in proc.output


def test_a_host_beyond_this_machine_says_the_page_is_open(tmp_path):
    missing = tmp_path / "missing.pt"          # stops the demo before it serves anything
    result = run_script("demo.py", "--checkpoint", missing, "--host", "0.0.0.0",
                        "--port", free_port())
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("[WARNING]")]
    assert len(lines) == 1 and "without a password" in lines[0] and "--auth" in lines[0]
    result = run_script("demo.py", "--checkpoint", missing, "--host", "0.0.0.0",
                        "--port", free_port(), "--auth", "me:secret")
    assert result.returncode == 1 and "[WARNING]" not in result.stderr
    assert "missing.pt" in one_line(result.stderr)


def test_a_malformed_login_is_a_usage_error(tmp_path):
    for bad in ("me", "me:", ":secret"):
        usage_error(run_script("demo.py", "--checkpoint", tmp_path / "x.pt", "--auth", bad),
                    "--auth", "USER:PASSWORD")
    result = run_script("demo.py", "--checkpoint", tmp_path / "x.pt", subprocess_=True,
                        env={"DCGAN_DEMO_AUTH": "nopassword"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "DCGAN_DEMO_AUTH must be USER:PASSWORD" in result.stderr.splitlines()[-1]


def test_bad_values_through_the_api_are_words(run, private_cache):
    """Gradio's client and plain HTTP, as a stranger could: each value the
    page cannot use is a message in words, and the server's log stays clean."""
    from gradio_client import Client
    with serving(run) as (url, proc):
        client = Client(url, verbose=False)
        client.predict(api_name="/train_evaluator")         # the digits on
        asked = [("/grid", (seed, 16, False, 3)) for seed in BAD_SEEDS if seed is not math.nan]
        asked += [("/morph", (1e30, 2, "any", "any", 0.5, 3)), ("/next_seed", (2**70,)),
                  ("/digit", (7, 0, 0.5, 3)), ("/grid", (0, 1e30, False, 3)),
                  ("/grid", (0, 16, False, 0.05)), ("/digit", ("7", 0, 0.5, 9))]
        for route, values in asked:
            with pytest.raises(Exception) as e:
                client.predict(*values, api_name=route)
            said = str(e.value)
            assert type(e.value).__name__ == "AppError", (route, values, said)
            assert "must be" in said or "is empty" in said, (route, values, said)
            assert "Overflow" not in said and "int()" not in said
        with pytest.raises(Exception, match="no class chosen: choose one of 0, 1"):
            client.predict("", 0, 0.5, 3, api_name="/digit")
        # what a client other than Gradio's can send: NaN, huge text, wrong types
        for route, raw, said in (
                ("grid", '[NaN, 16, false, 3]', "the seed must be"),
                ("grid", '[1, Infinity, false, 3]', "the number of samples must be"),
                ("grid", f'["{"9" * 100_000}", 16, false, 3]', "the seed must be"),
                ("grid", '[{"a": 1}, 16, null, 3]', "the seed must be"),
                ("grid", '[1, 16, "yes", 3]', "the Langevin switch must be true or false"),
                ("grid", '[1, 16, false, NaN]', "the fidelity-variety slider must be"),
                ("grid", '[1, 16, false, [1]]', "the fidelity-variety slider must be"),
                ("grid", '[1, 16, true, 1]', "set the fidelity-variety slider to its right end"),
                ("morph", '[1, 2, "any", "any", NaN, 3]', "the morph's position must be"),
                ("morph", '[1, 2, "any", "any", 0.5, "x"]', "the fidelity-variety slider must be"),
                ("morph", f'[1, 2, "{"7" * 5000}", "any", 0.5, 3]', "must be the name of a class"),
                ("digit", '["7", 0, NaN, 3]', "a probability in (0, 1]"),
                ("digit", '[["7"], 0, 0.5, 3]', "the class must be the name of a class")):
            answer = call_api(url, route, raw)
            assert "event: error" in answer and said in answer, (route, raw[:40], answer)
        with concurrent.futures.ThreadPoolExecutor(50) as pool:     # more than the queue holds
            codes = list(pool.map(lambda i: post(url + "gradio_api/call/grid",
                                                 '{"data": [%d, 100, false, 3]}' % i)[0], range(200)))
        assert set(codes) <= {200, 503}, codes                      # 503: "queue full"
        with urllib.request.urlopen(url, timeout=60) as response:
            assert response.status == 200
        assert post(url + "monitoring", None)[0] == 403              # monitoring is off
    assert "Traceback" not in proc.output, proc.output


def test_a_host_that_does_not_resolve_is_named(tmp_path):
    result = run_script("demo.py", "--checkpoint", tmp_path / "x.pt",
                        "--host", "no-such-host.invalid")
    assert result.returncode == 1
    said = one_line(result.stderr)
    assert "cannot find the host 'no-such-host.invalid'" in said and "--port" not in said


def test_an_address_of_another_machine_says_to_pass_another_host(tmp_path):
    import errno
    with socket.socket() as s:
        try:
            s.bind(("10.255.255.1", 0))
            pytest.skip("10.255.255.1 is an address of this machine")
        except OSError as e:
            if e.errno != errno.EADDRNOTAVAIL:
                pytest.skip(f"binding 10.255.255.1 fails otherwise here ({e})")
    result = run_script("demo.py", "--checkpoint", tmp_path / "x.pt", "--host", "10.255.255.1")
    assert result.returncode == 1
    said = one_line(result.stderr)
    assert "10.255.255.1 is not an address of this machine; pass --host" in said, said
    assert "--port" not in said and "another program" not in said


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_the_page_listens_on_ipv6_loopback(run):
    with serving(run, host="::1") as (url, proc):
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
    assert "http://[::1]:" in proc.output and "Traceback" not in proc.output


def test_help_says_calibration_steps_are_steps():
    result = run_script("demo.py", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    said = text.split("--calibration-steps CALIBRATION_STEPS", 1)[1].split("(default: 0)")[0]
    assert "steps" in said and "second" not in said


def test_help_shows_the_whole_description_and_the_bound_of_calibration_steps(tmp_path):
    text = run_script("demo.py", "--help").stdout
    description = " ".join(text.split("options:")[0].split("\n\n", 1)[1].split())
    assert description.endswith("a slider that morphs one sample into another. Trains nothing "
                                "unless asked."), description
    assert "at most 10000" in " ".join(text.split("--calibration-steps CALIBRATION_STEPS")[2]
                                       .split("(default: 0)")[0].split())
    result = run_script("demo.py", "--checkpoint", tmp_path / "nothing.pt",
                        "--calibration-steps", "10001")
    usage_error(result, "--calibration-steps", "at most 10,000")


class AlwaysThree:
    """A stand-in evaluator of ten classes that calls every image a 3."""

    def eval(self):
        return self

    def features(self, x):
        return x.flatten(1)[:, :1] * 0

    def fc2(self, features):
        import torch          # (only this stand-in needs it)
        return (torch.eye(10)[3] * 5).expand(len(features), 10)


def test_a_class_the_generator_never_draws_is_one_plain_sentence(run, monkeypatch):
    from pyimagesearch.quality.selection import DigitSelector
    from pyimagesearch.sampling import rejection
    play = playground(run / "run" / "checkpoint.pt", run / "data")
    play.selector = DigitSelector(play.gen, AlwaysThree(), "cpu", 0)
    monkeypatch.setattr(rejection, "MAX_DRAWS", 2000)
    with pytest.raises(UserError) as refused:
        play.digit("7", 0, 4, 0.1)           # the least probability at the slider's minimum
    assert str(refused.value) == ("the generator does not draw a 7: the evaluator calls none of "
                                  "2,000 of its samples one")


class UnsureThree(AlwaysThree):
    """Calls every image a 3, with probability 0.45 (e^2 / (e^2 + 9))."""

    def fc2(self, features):
        import torch
        return (torch.eye(10)[3] * 2).expand(len(features), 10)


def test_a_morph_checks_both_classes_before_sampling_and_says_what_helps(run, monkeypatch):
    from pyimagesearch.quality.selection import DigitSelector
    from pyimagesearch.sampling import rejection
    play = playground(run / "run" / "checkpoint.pt", run / "data")
    play.selector = DigitSelector(play.gen, UnsureThree(), "cpu", 0)
    sampled = []
    monkeypatch.setattr(play, "sample_class", lambda *a, **k: sampled.append(a))
    with pytest.raises(UserError, match="no class '\\\\u202e4'"):
        play.morph_path(0, 1, "3", "\u202e4")
    assert sampled == []                     # refused before a sample of the 3 was drawn
    monkeypatch.undo()
    monkeypatch.setattr(rejection, "MAX_DRAWS", 2000)
    with pytest.raises(UserError) as refused:
        play.morph_path(0, 1, "3", "3")      # every sample a 3, none with probability 0.9
    said = str(refused.value)
    assert said.endswith("; choose another seed or class for the 3 end"), said
    assert "--" not in said and "least probability" not in said, said


# ------------------------------------------------ --conditional

@pytest.fixture(scope="module")
def told(tmp_path_factory):
    """A 2-epoch --conditional run (its generator is told the class)."""
    root = tmp_path_factory.mktemp("demo-conditional")
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, "-e", "2", "-b", "16", "--conditional").returncode == 0
    return root


def test_a_conditional_generator_draws_the_class_asked_for_at_once(told, private_cache):
    import torch
    from pyimagesearch.sampling import latent
    play = playground(told / "run" / "checkpoint.pt", told / "data")
    assert play.conditional and play.whyNoDigits is None and play.selector is None
    assert play.inputDim == 100 and play.classes == list("0123456789")
    assert "drawn as asked" in play.summary()[-1]
    image, said = play.digit("3", 0, 4)
    assert said == "4 samples drawn as a 3: the generator is told the class, so none is rejected"
    images = latent.generate(play.gen, latent.noise(4, 0, 100), "cpu", torch.full((4,), 3))
    from pyimagesearch.sharing.playground import enlarged, MONTAGE_SHOWN
    assert np.array_equal(image, enlarged(images, MONTAGE_SHOWN))   # the label itself, no rejection
    assert not np.array_equal(image, play.digit("8", 0, 4)[0])
    assert not list(private_cache.rglob("*.pt"))                       # no evaluator trained


def test_training_the_evaluator_for_a_conditional_generator_says_it_needs_none():
    # the page hides the button, but its API route answers: in words, not "None"
    from pyimagesearch.errors import UserError
    from pyimagesearch.exported import shipped_generator
    play = Playground(shipped_generator()[0], log=lambda line: None)
    with pytest.raises(UserError, match="told the class") as refused:
        play.train_evaluator()
    assert "None" not in str(refused.value) and play.selector is None


def test_a_conditional_grid_has_one_class_per_row(told):
    play = playground(told / "run" / "checkpoint.pt", told / "data")
    assert play.row_classes(16).tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert play.row_classes(12).view(-1)[::4].tolist() == [0, 1, 2]   # 4 columns, the last short
    assert play.row_classes(121).tolist()[-11:] == [0] * 11            # after 9, 0 again
    assert play.grid(0, 16).shape == (448, 448, 3)


def test_a_conditional_morph_walks_from_class_to_class_with_the_same_noise(told):
    import torch
    from pyimagesearch.sampling import latent
    play = playground(told / "run" / "checkpoint.pt", told / "data")
    path = play.morph_path(5, 5, "1", "7")
    assert len(path) == MORPH_STEPS + 1
    z = latent.noise(1, 5, 100)
    first = latent.generate(play.gen, z, "cpu", torch.tensor([1]))
    last = latent.generate(play.gen, z, "cpu", torch.tensor([7]))
    assert torch.allclose(path[0], first[0], atol=1e-6) and torch.allclose(path[-1], last[0], atol=1e-6)
    middle = torch.zeros(1, 10)
    middle[0, [1, 7]] = 0.5
    halfway = latent.generate(play.gen, z, "cpu", middle)          # half one code, half the other
    assert torch.allclose(path[MORPH_STEPS // 2], halfway[0], atol=1e-6)


def test_a_conditional_generator_greys_out_langevin_and_refuses_bad_classes(told, tmp_path):
    assert run_script("generate.py", "--checkpoint", told / "run" / "checkpoint.pt",
                      "--export", tmp_path / "export").returncode == 0
    for path in (told / "run" / "checkpoint.pt", told / "run" / "generator.pth",
                 tmp_path / "export"):
        play = playground(path, told / "data")
        assert play.conditional and "told the class (--conditional)" in play.whyNoLangevin
        with pytest.raises(UserError, match="the Langevin sampler is off: this generator is told"):
            play.grid(0, 16, langevin=True)
        for bad, said in (("12", "the class must be one of 0, 1, 2"), (12, "the name of a class"),
                          ("", "no class chosen"), ("any", "got 'any'"), (-1, "name of a class")):
            with pytest.raises(UserError, match=said):
                play.digit(bad, 0)
            with pytest.raises(UserError, match=said):
                play.morph_path(1, 1, "3", bad)


@pytest.mark.slow
def test_the_conditional_page_draws_the_class_at_once_in_a_real_browser(told, tmp_path):
    from playwright.sync_api import sync_playwright
    chromium = browser()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_demo(told, port)
    try:
        wait_for_page(url, proc)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(url)
            page.wait_for_selector("#grid img", timeout=60_000)
            assert "drawn as asked" in page.inner_text("#summary")
            # what does not apply to a generator told the class is not on the
            # page, and one line says why
            assert page.locator("#langevin").count() == 0 or not page.locator("#langevin").is_visible()
            assert page.locator("#confidence").count() == 0 or not page.locator("#confidence").is_visible()
            assert "told the class" in page.inner_text("#not-shown")
            assert page.locator("#truncation").is_visible()
            assert not page.locator("#train-evaluator").is_visible()
            # the class menu draws at once: no evaluator to train, nothing rejected
            assert page.locator("#give").is_enabled()
            page.click("#digit input")
            page.locator("[role=option]", has_text="3").first.click()
            page.click("#give")
            # at once means with no evaluator to train and nothing rejected (the
            # line says so); the bound is a guard against a hang, not a speed (#40)
            page.wait_for_function(
                "() => document.querySelector('#digit-said').innerText.includes('drawn as a 3')",
                timeout=120_000)
            assert "none is rejected" in page.inner_text("#digit-said")
            page.wait_for_selector("#chosen img", timeout=60_000)
            # the morph from class 1 to class 7, the same noise
            start = page.locator("#morphed img").get_attribute("src")
            page.fill("#morph input[type=number]", "1")
            page.press("#morph input[type=number]", "Enter")
            page.wait_for_function(
                "s => { const i = document.querySelector('#morphed img'); return i && i.src !== s; }",
                arg=start, timeout=60_000)
            assert page.locator(".toast-body").count() == 0          # no error shown
            page.screenshot(path=os.environ.get("DCGAN_DEMO_SCREENSHOT_CONDITIONAL")
                            or str(tmp_path / "conditional.png"), full_page=True)
            b.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out


def test_a_signal_while_gradio_is_still_starting_stops_the_page_as_ctrl_c_does(capsys):
    """Gradio's server can answer before launch() returns (it goes on
    checking the server it started): Ctrl-C or SIGTERM then stops the page
    as at any later moment, closing it, not with the interrupted-run line."""
    import demo
    from pyimagesearch.errors import Terminated

    class Starting:
        is_running, closed = True, False

        def launch(self, **kwargs):
            raise Terminated()

        def close(self, verbose=False):
            self.closed = True

    page = Starting()
    demo.serve(page, "127.0.0.1", 1, None)
    assert page.closed and "the demo page stopped" in capsys.readouterr().err


def test_guessing_the_login_slows_then_locks_one_address_without_blocking_others():
    """The Doorkeeper in front of Gradio's app, on a fake app and clock:
    each failed login waits LOGIN_DELAY (asyncio's sleep, the server goes
    on), is said on stderr, and after MAX_FAILED_LOGINS that address is
    refused even the right password until LOCKOUT_SECONDS have passed."""
    import asyncio

    from pyimagesearch.sharing import page

    now, slept = [0.0], []

    async def sleep(seconds):
        slept.append(seconds)

    async def gradio(scope, receive, send):          # 200 for "right", 400 otherwise
        ok = scope["query_string"] == b"right"
        await send({"type": "http.response.start", "status": 200 if ok else 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    door = page.Doorkeeper(gradio, clock=lambda: now[0], sleep=sleep)

    def post(path, address="10.0.0.1", password=b"wrong"):
        sent = []

        async def send(message):
            sent.append(message)
        asyncio.run(door({"type": "http", "method": "POST", "path": path,
                          "client": (address, 5000), "query_string": password}, None, send))
        return sent[0]["status"]

    assert [post("/login") for _ in range(page.MAX_FAILED_LOGINS)] == \
        [400] * page.MAX_FAILED_LOGINS
    assert slept == [page.LOGIN_DELAY] * page.MAX_FAILED_LOGINS
    assert post("/login/", password=b"right") == 429          # locked, even the right one
    assert post("/login", address="10.0.0.2", password=b"right") == 200   # another address
    now[0] += page.LOCKOUT_SECONDS
    assert post("/login", password=b"right") == 200
    assert post("/login") == 400                             # counted from 0 again
    # uploads: MAX_UPLOADS per address in CACHE_HOURS
    assert {post("/gradio_api/upload") for _ in range(page.MAX_UPLOADS)} == {400}
    assert post("/gradio_api/upload") == 429
    assert post("/gradio_api/upload", address="10.0.0.2") == 400
    now[0] += page.CACHE_HOURS * 3600
    assert post("/gradio_api/upload") == 400


def multipart(files, boundary=b"b0und"):
    """A multipart body of `files` one-byte files (Gradio's upload form)."""
    part = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; '
            b'filename="x.bin"\r\n\r\nx\r\n')
    return part * files + b"--" + boundary + b"--\r\n"


def test_uploads_are_counted_in_files_not_requests():
    """One request of 500 files is 500 uploads: refused (429) once the
    address's MAX_UPLOADS are used, Gradio's reading stopped there."""
    import asyncio

    from pyimagesearch.sharing import page

    read = []

    async def gradio(scope, receive, send):          # reads the body, as Gradio's parser does
        while True:
            message = await receive()
            read.append(len(message["body"]))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    door = page.Doorkeeper(gradio, sleep=lambda s: asyncio.sleep(0))

    def upload(files, address="10.0.0.1", chunk=100):
        body, sent = multipart(files), []
        chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)]

        async def receive():
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks[1:])}

        async def send(message):
            sent.append(message)
        headers = [(b"content-type", b"multipart/form-data; boundary=b0und")]
        asyncio.run(door({"type": "http", "method": "POST", "path": "/gradio_api/upload",
                          "client": (address, 5000), "headers": headers}, receive, send))
        return sent[0]["status"], sent[1]["body"]

    status, said = upload(500)
    assert status == 429 and b"at most 20 uploaded files" in said
    assert sum(read) < len(multipart(500)) // 10        # stopped at the 21st file
    assert upload(1) == (429, said)                     # the hour's 20 are used
    assert upload(3, address="10.0.0.2")[0] == 200
    assert [upload(1, address="10.0.0.2")[0] for _ in range(page.MAX_UPLOADS - 3)] == \
        [200] * (page.MAX_UPLOADS - 3)
    assert upload(1, address="10.0.0.2")[0] == 429


def test_parallel_failed_logins_are_said_with_their_own_counts_and_refusals_counted(capsys):
    """Five failures at once: "1 of 5" ... "5 of 5", each once; the logins
    refused while the address is locked are counted in a line a minute
    (and what is left when the lock ends), not one line each."""
    import asyncio
    import re

    from pyimagesearch.sharing import page

    now = [0.0]

    async def gradio(scope, receive, send):          # the form read first: the others go on
        await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    door = page.Doorkeeper(gradio, clock=lambda: now[0], sleep=lambda s: asyncio.sleep(0))

    async def post():
        sent = []

        async def send(message):
            sent.append(message)
        await door({"type": "http", "method": "POST", "path": "/login",
                    "client": ("10.0.0.1", 5000)}, None, send)
        return sent[0]["status"]

    def at_once(n):
        async def all_of():
            return await asyncio.gather(*(post() for _ in range(n)))
        return asyncio.run(all_of())

    assert at_once(page.MAX_FAILED_LOGINS) == [400] * page.MAX_FAILED_LOGINS
    err = capsys.readouterr().err
    counts = sorted(int(n) for n in re.findall(r"\((\d) of 5", err))
    assert counts == list(range(1, page.MAX_FAILED_LOGINS + 1)), err
    assert err.count("its logins are refused") == 1
    assert at_once(25) == [429] * 25
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 login from 10.0.0.1 refused" in err, err
    now[0] += page.SAY_REFUSED_EVERY
    assert at_once(1) == [429]
    err = capsys.readouterr().err
    assert "25 logins from 10.0.0.1 refused" in err and err.count("\n") == 1, err
    now[0] += 1
    assert at_once(3) == [429] * 3
    assert capsys.readouterr().err == ""
    now[0] += page.LOCKOUT_SECONDS
    assert at_once(1) == [400]                          # the lock over: counted from 1
    err = capsys.readouterr().err
    assert "3 more logins from 10.0.0.1 were refused until its lock ended" in err, err
    assert "(1 of 5)" in err


def test_a_real_server_locks_out_guessed_logins_and_bounds_uploads(run):
    from pyimagesearch.sharing.page import MAX_FAILED_LOGINS, MAX_UPLOADS
    with serving(run, env={"DCGAN_DEMO_AUTH": "me:secret"}) as (url, proc):
        statuses = [post_file(url, 10) for _ in range(MAX_UPLOADS + 1)]
        assert set(statuses[:-1]) == {401} and statuses[-1] == 429, statuses

        def login(password):
            form = urllib.parse.urlencode({"username": "me", "password": password}).encode()
            # a new address each time, as a client may claim: not believed
            forged = {"X-Forwarded-For": f"203.0.113.{len(forgedFrom)}"}
            forgedFrom.append(1)
            try:
                with urllib.request.urlopen(urllib.request.Request(url + "login", data=form,
                                                                   headers=forged),
                                            timeout=60) as response:
                    return response.status
            except urllib.error.HTTPError as e:
                return e.code
        started, forgedFrom = time.monotonic(), []
        assert [login("guess") for _ in range(MAX_FAILED_LOGINS)] == [400] * MAX_FAILED_LOGINS
        assert time.monotonic() - started >= MAX_FAILED_LOGINS * 0.9     # each one waited
        assert login("secret") == 429                       # locked for a while
    lines = [line for line in proc.output.splitlines() if "a failed login from 127.0.0.1" in line]
    assert len(lines) == MAX_FAILED_LOGINS, proc.output
    assert "Traceback" not in proc.output


def test_a_login_with_spaces_at_either_end_is_a_usage_error(tmp_path):
    for bad in (" me:secret", "me :secret", "me: secret", "me:secret "):
        usage_error(run_script("demo.py", "--checkpoint", tmp_path / "x.pt", "--auth", bad),
                    "--auth", "without spaces at the start or end")
    result = run_script("demo.py", "--checkpoint", tmp_path / "x.pt", subprocess_=True,
                        env={"DCGAN_DEMO_AUTH": "me:secret\t"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "without spaces" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("port", ["-1", "0", "65536", "x"])
def test_every_bad_port_gets_the_same_rule(tmp_path, port):
    usage_error(run_script("demo.py", "--checkpoint", tmp_path / "x.pt", f"--port={port}"),
                "--port", f"must be a port from 1 to 65535, got '{port}'")


def test_ctrl_c_while_the_demo_starts_says_what_it_stopped(monkeypatch, capsys):
    import demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt()
    monkeypatch.setattr(demo, "Playground", interrupted)
    with pytest.raises(SystemExit) as e:
        demo.main(["--port", str(free_port())])
    assert e.value.code == 130
    said = capsys.readouterr().err
    assert "while the demo was starting: no page was served" in said
    assert "every file written so far is whole" not in said
