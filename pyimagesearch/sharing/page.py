"""The demo's web page (Gradio), over a Playground: new samples for a seed
(with the Langevin switch), "give me a 7", and a slider that morphs one
sample into another (for a conditional generator: the class drawn at once,
one class per grid row, a morph from class to class with the same noise).
A part the file cannot serve is greyed out and says
why; an error becomes Gradio's message on the page, never a traceback.

The handlers take the values as the browser or an API client sent them
(Gradio's own checks are off: they answer in Python's words and print a
traceback), and the Playground checks each one. One request runs at a
time (the model is one), and at most MAX_WAITING wait."""

import asyncio
import functools
import json
import math
import os
import sys
import tempfile
import time

from ..errors import UserError
from ..sampling.rejection import TooFewAccepted
from ..quality.selection import MIN_CONFIDENCE
from ..sampling.dataset import MAX_DOWNLOAD
from .playground import (ANY, MAX_GRID, MIN_SLIDER_T, NO_TRUNCATION, name_of, next_seed,
                         seed_of, slider_value, truncation_of)

MAX_WAITING = 64              # requests queued at once; more are refused ("queue full")
CACHE_HOURS = 1               # Gradio's copies of the images shown are deleted after this
# --auth: each failed login is answered this late (the server goes on
# serving meanwhile), and after MAX_FAILED_LOGINS from one address (those
# still being answered count) it is refused every login for LOCKOUT_SECONDS
LOGIN_DELAY = 1.0
MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 300
# nothing on the page takes a file: Gradio's upload route takes them (each
# at most demo.MAX_UPLOAD), this many files from one address in CACHE_HOURS
# (a request counts as many files as its multipart body has parts, at least one)
MAX_UPLOADS = 20
SAY_REFUSED_EVERY = 60        # seconds between the lines counting a locked address's refusals


class TooManyUploads(Exception):
    """Raised into Gradio's reading of an upload's body when its files go
    beyond the address's MAX_UPLOADS; the Doorkeeper answers 429."""


class Tries:
    """One address's logins: `failed` (counted as they come in, those still
    being answered too), the last failure's time, and while it is locked out
    the refusals not said yet and when they were last said."""

    def __init__(self, now):
        self.failed, self.last, self.refused, self.said = 0, now, 0, None


class Parts:
    """Counts the parts of a multipart body as its chunks go by: each
    delimiter line (CRLF, "--", the boundary) not followed by "--" (the
    closing one) starts a part; a delimiter cut by a chunk's end is kept
    for the next chunk."""

    def __init__(self, boundary):
        self.mark = b"\r\n--" + boundary
        self.tail, self.count = b"\r\n", 0        # the body's first delimiter has no CRLF

    def feed(self, chunk):
        data, start, mark = self.tail + chunk, 0, self.mark
        keep = None
        while (i := data.find(mark, start)) >= 0:
            end = i + len(mark)
            if end + 2 > len(data):                 # what follows is in the next chunk
                keep = i
                break
            self.count += data[end:end + 2] != b"--"
            start = end
        self.tail = data[keep if keep is not None else max(start, len(data) - len(mark)):]
        return self.count


def boundary_of(scope):
    """The multipart boundary of a request's Content-Type, parsed as Gradio
    parses it (b"" when there is none: Gradio refuses such a body)."""
    from python_multipart.multipart import parse_options_header   # Gradio's dependency
    header = dict(scope.get("headers") or ()).get(b"content-type", b"")
    _, options = parse_options_header(header)
    return options.get(b"boundary", b"")


class Doorkeeper:
    """ASGI middleware in front of Gradio's app: slows and then locks out
    the guessing of the login from one address (each failure said on
    standard error, with its own count; the refusals of a locked address
    counted in a line a minute), and bounds the files one address may
    upload. The waits are asyncio's: every other request goes on meanwhile.
    An address is the client's as uvicorn gives it (docs/sharing.md)."""

    def __init__(self, app, clock=time.monotonic, sleep=asyncio.sleep):
        self.app, self.clock, self.sleep = app, clock, sleep
        self.failures = {}        # address -> Tries
        self.uploads = {}         # address -> the times of its uploaded files

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method") == "POST":
            path = scope.get("path", "").rstrip("/")
            address = (scope.get("client") or ("an unknown address",))[0]
            if path.endswith("/login"):
                return await self.login(address, scope, receive, send)
            if path.endswith("/upload"):
                return await self.upload(address, scope, receive, send)
        return await self.app(scope, receive, send)

    async def login(self, address, scope, receive, send):
        now = self.clock()
        tried = self.failures.setdefault(address, Tries(now))
        if now - tried.last >= LOCKOUT_SECONDS:
            if tried.refused:
                say(f"[WARNING] {tried.refused} more logins from {address} were refused "
                    "until its lock ended")
            self.failures[address] = tried = Tries(now)          # forgiven
        if tried.failed >= MAX_FAILED_LOGINS:
            wait = math.ceil(LOCKOUT_SECONDS - (now - tried.last))
            tried.refused += 1
            if tried.said is None or now - tried.said >= SAY_REFUSED_EVERY:
                say(f"[WARNING] {tried.refused} login{'s' * (tried.refused > 1)} from {address} "
                    f"refused while it is locked out ({wait} s left; said at most once a "
                    f"minute)")
                tried.refused, tried.said = 0, now
            return await answer(send, 429, f"too many failed logins from {address}: try "
                                f"again in {wait} s")
        # counted before the answer, and said with the count it got: no racing
        tried.failed, tried.last = tried.failed + 1, now
        count = tried.failed

        async def sent(message):
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    if self.failures.get(address) is tried:
                        del self.failures[address]
                else:
                    locked = count >= MAX_FAILED_LOGINS
                    say(f"[{'WARNING' if locked else 'INFO'}] a failed login from {address} "
                        f"({count} of {MAX_FAILED_LOGINS}"
                        + (f"; its logins are refused for {LOCKOUT_SECONDS} s)" if locked else ")"))
                    await self.sleep(LOGIN_DELAY)
            await send(message)
        await self.app(scope, receive, sent)

    async def upload(self, address, scope, receive, send):
        """Gradio's upload route, each file of the body counted as it comes
        in (the request itself counts one): one beyond MAX_UPLOADS stops
        the reading and the request is answered 429."""
        refusal = f"at most {MAX_UPLOADS} uploaded files in {CACHE_HOURS} h from one address"
        if not self.may_upload(address):
            return await answer(send, 429, refusal)
        boundary, charged, started = boundary_of(scope), [1], []
        parts = Parts(boundary) if boundary else None     # none: Gradio refuses the body

        async def counted():
            message = await receive()
            if parts and message["type"] == "http.request":
                files = parts.feed(message.get("body", b""))
                while files > charged[0]:
                    if not self.may_upload(address):
                        raise TooManyUploads()
                    charged[0] += 1
            return message

        async def sending(message):
            started.append(message["type"])
            await send(message)
        try:
            await self.app(scope, counted, sending)
        except TooManyUploads:
            if not started:
                await answer(send, 429, refusal)

    def may_upload(self, address):
        """Whether `address` may upload one more file now (then counted)."""
        now = self.clock()
        times = [t for t in self.uploads.get(address, ()) if now - t < CACHE_HOURS * 3600]
        self.uploads[address] = times
        if len(times) >= MAX_UPLOADS:
            return False
        times.append(now)
        return True


async def answer(send, status, detail):
    """An HTTP answer `status` with Gradio's JSON {"detail": ...}."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def say(line):
    print(line, file=sys.stderr, flush=True)


def guarded():
    """Gradio's launch(app_kwargs=...) that puts the Doorkeeper in front."""
    from starlette.middleware import Middleware    # Gradio's own dependency: with the page
    return {"middleware": [Middleware(Doorkeeper)]}


def shown_errors(function):
    """A handler whose UserError (and a sampler that keeps too few) becomes
    gradio.Error: a message on the page, and nothing in the server's log."""
    import gradio as gr     # imported with the page, as build_page does

    @functools.wraps(function)
    def wrapper(*args):
        try:
            return function(*args)
        except (UserError, TooFewAccepted) as e:
            raise gr.Error(str(e), print_exception=False) from None
    return wrapper


def summary_of(play):
    return ("# Training a DCGAN in PyTorch: the demo\n"
            + "\n".join(f"- {line}" for line in play.summary()))


def not_shown(play):
    """The line saying which controls the page leaves out for this
    generator, and why ("" when it shows them all)."""
    if play.conditional:
        return ("Not shown, as they do not apply to a generator told the class: the "
                "evaluator's least probability (nothing is rejected) and the Langevin "
                "sampler (it moves samples by an unconditional discriminator's verdict).")
    return ""


def first_grid(play):
    """The samples the page opens with: 64, or a conditional generator's one
    row per class (100 for ten digits) where that fits the grid."""
    if play.conditional and play.numClasses ** 2 <= MAX_GRID:
        return play.numClasses ** 2
    return 64


def scratch_folder():
    """Where the page's downloads are made: the demo's temporary folder
    (demo.py sets GRADIO_TEMP_DIR to a folder deleted when it stops), which
    Gradio serves files from."""
    return os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()


def build_page(play):
    """The gradio.Blocks page for the Playground `play`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # no calls home from a local demo
    import gradio as gr     # Gradio takes seconds to import: only the demo pays

    classes = list(play.classes or [])
    told = play.conditional               # --conditional: it draws the class asked for at once
    canDigits = play.selector is not None or told
    canLangevin = play.whyNoLangevin is None
    # a morph's ends: a class each for a conditional generator (the same
    # noise from one to the other), else a sample of the seed or of a class
    ends = classes if told else ([ANY] + classes if canDigits else [ANY])
    endA, endB = (classes[min(1, len(classes) - 1)], classes[min(7, len(classes) - 1)]) \
        if told else (ANY, ANY)
    state = {"path": None, "key": None}

    def morph_frame(seedA, seedB, nameA, nameB, t, truncation):
        key = (seed_of(seedA), seed_of(seedB), name_of(nameA, "a morph's class") or ANY,
               name_of(nameB, "a morph's class") or ANY)
        if told:                     # a class each end (an empty one: "no class chosen")
            key = key[:2] + (name_of(nameA, "a morph's class"), name_of(nameB, "a morph's class"))
        key += (slider_value(truncation_of(truncation)),)
        if state["key"] != key:
            state["path"], state["key"] = play.morph_path(*key), key
        return play.frame(state["path"], t)

    def train():
        said = play.train_evaluator()
        ready, ends = gr.update(interactive=True), gr.update(choices=[ANY] + classes,
                                                             interactive=True)
        return summary_of(play), said, ready, ready, ready, ends, ends, gr.update(visible=False)

    hours = CACHE_HOURS * 3600
    with gr.Blocks(title="DCGAN demo", delete_cache=(hours, hours)) as page:
        summary = gr.Markdown(summary_of(play), elem_id="summary")
        gr.Markdown(not_shown(play), visible=bool(not_shown(play)), elem_id="not-shown")
        with gr.Row():
            with gr.Column(scale=1):
                seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                num = gr.Slider(4, MAX_GRID, value=first_grid(play), step=1, label="samples",
                                elem_id="num")
                truncation = gr.Slider(
                    MIN_SLIDER_T, NO_TRUNCATION, value=slider_value(play.truncation), step=0.05,
                    label="fidelity ↔ variety", elem_id="truncation",
                    info=f"the noise truncated at T (left: more faithful, more alike; right end, "
                         f"{NO_TRUNCATION:g}: untruncated, the most varied)"
                         + (f"; {play.truncation:g} is this generator's recommended T"
                            if play.truncation is not None and play.truncation < NO_TRUNCATION
                            else ""))
                langevin = gr.Checkbox(value=False, interactive=canLangevin, elem_id="langevin",
                                       visible=not told,
                                       label="Langevin sampler (the discriminator moves the samples)",
                                       info=None if canLangevin else f"off: {play.whyNoLangevin}")
                again = gr.Button("New samples", elem_id="new-samples")
            grid = gr.Image(label="samples", type="numpy", interactive=False, elem_id="grid",
                            scale=2)
        gr.Markdown("## Give me a digit" if play.gen.channels == 1 else "## Give me a class")
        with gr.Row():
            with gr.Column(scale=1):
                name = gr.Dropdown(choices=classes, value=classes[min(7, len(classes) - 1)]
                                   if classes else None, label="class", interactive=canDigits,
                                   elem_id="digit")
                confidence = gr.Slider(0.1, 0.99, value=MIN_CONFIDENCE, step=0.01,
                                       label="the evaluator's least probability for it",
                                       interactive=canDigits, visible=not told,
                                       elem_id="confidence")
                give = gr.Button("Give me this one", interactive=canDigits, elem_id="give")
                why = gr.Markdown("" if canDigits else f"Off: {play.whyNoDigits}.",
                                  elem_id="digit-why")
                trainButton = gr.Button("Train the evaluator (once, then cached)",
                                        visible=not canDigits and play.split is not None
                                        and bool(classes), elem_id="train-evaluator")
                said = gr.Markdown("", elem_id="digit-said")
            chosen = gr.Image(label="chosen", type="numpy", interactive=False, elem_id="chosen",
                              scale=2)
        gr.Markdown("## Morph one class into another (the same noise)" if told
                    else "## Morph one sample into another")
        with gr.Row():
            with gr.Column(scale=1):
                seedA = gr.Number(value=1, precision=0, label="from seed", elem_id="seed-a")
                seedB = gr.Number(value=1 if told else 2, precision=0, label="to seed",
                                  elem_id="seed-b")
                nameA = gr.Dropdown(choices=ends, value=endA, label="from class",
                                    interactive=canDigits, elem_id="class-a")
                nameB = gr.Dropdown(choices=ends, value=endB, label="to class",
                                    interactive=canDigits, elem_id="class-b")
                t = gr.Slider(0, 1, value=0, step=1 / 24, label="morph", elem_id="morph")
            morphed = gr.Image(label="morph", type="numpy", interactive=False, elem_id="morphed",
                               scale=2)

        if told:                 # its digits come labelled: a data set to take away
            gr.Markdown("## Download a data set")
            with gr.Row():
                with gr.Column(scale=1):
                    dataNum = gr.Number(value=1000, precision=0, elem_id="dataset-num",
                                        label=f"digits (at most {MAX_DOWNLOAD:,}; the seed and "
                                              "the slider above)")
                    download = gr.Button("Download a data set", elem_id="download-dataset")
                zipped = gr.File(label="data set: a zip of class folders of PNGs and "
                                       "manifest.json", interactive=False, elem_id="dataset",
                                 scale=2)

        def on(event, function, inputs, outputs, name):
            """`function` on `event`, seeing the values as sent (preprocess
            off), one at a time with every other handler of the page."""
            event(shown_errors(function), inputs, outputs, api_name=name, preprocess=False,
                  concurrency_id="playground", concurrency_limit=1)

        for event in (seed.change, num.release, langevin.change, truncation.release, page.load):
            on(event, play.grid, [seed, num, langevin, truncation], grid, "grid")
        on(again.click, next_seed, seed, seed, "next_seed")
        on(give.click, lambda n, s, c, T: play.digit(n, s, 16, c, T),
           [name, seed, confidence, truncation], [chosen, said], "digit")
        morphInputs = [seedA, seedB, nameA, nameB, t, truncation]
        for event in (t.change, seedA.change, seedB.change, nameA.change, nameB.change,
                      truncation.release, page.load):
            on(event, morph_frame, morphInputs, morphed, "morph")
        if told:
            on(download.click, lambda n, s, T: play.data_set(n, s, T, scratch_folder()),
               [dataNum, seed, truncation], zipped, "data_set")
        on(trainButton.click, train, None,
           [summary, why, name, confidence, give, nameA, nameB, trainButton], "train_evaluator")
    page.queue(max_size=MAX_WAITING)
    return page
