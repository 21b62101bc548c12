"""The model card of an exported generator (README.md in the folder, as the
Hugging Face Hub shows it): what the model is, how it was trained and
scored, and how to load it."""

import json
import re

from ..errors import printable
from ..models import describe

SCORES = (("fld", "FLD (Fréchet distance in the evaluator's features; lower is better)", "{:.1f}"),
          ("inception_score", "Inception Score (higher is better)", "{:.2f}"),
          ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"),
          ("density", "density", "{:.3f}"), ("coverage", "coverage", "{:.3f}"),
          ("classes_covered", "classes covered", "{}"),
          ("as_asked", "drawn as the class asked for (the evaluator agrees)", "{:.1%}"),
          ("worst_class_as_asked", "the same, worst class", "{:.1%}"))


def _line(text):
    """A value of config.json as one line of the card (a class folder's name
    may hold a newline): its line breaks become spaces, and every other
    control or format character, bidirectional override and lone surrogate
    its escape (errors.printable)."""
    return printable(" ".join(str(text).splitlines()))


def _cell(text):
    """... and as a table cell, its | escaped."""
    return _line(text).replace("|", "\\|")


def _code(text):
    """... and as inline code: fenced by more backticks than it holds."""
    text = _line(text)
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"`{text}`" if fence == "`" else f"{fence} {text} {fence}"


def _scores(config, name):
    scores = config.get("scores")
    if not scores:
        return ("Not scored: the run had no `--eval-every`. "
                f"`python evaluate.py --checkpoint {name} --data-dir DIR` scores it "
                "against the real images (the companion code's docs/quality.md).")
    rows = [f"| {label} | {form.format(scores[key])} |" for key, label, form in SCORES
            if scores.get(key) is not None]
    if scores.get("worst_class") is not None and scores.get("worst_class_as_asked") is not None:
        rows[-1] = rows[-1].replace("worst class", f"worst class ({_cell(scores['worst_class'])})")
    real = scores.get("real_fld")
    return "\n".join([
        f"Scored at epoch {scores.get('epoch', '?')} by the project's evaluator (a small "
        f"classifier trained on the real images; the companion code's docs/quality.md), on "
        f"{scores.get('num_samples') or 10000:,} samples"
        + (f"; the real data's own FLD is {real:.1f}" if real is not None else "") + ":",
        "", "| metric | value |", "| --- | --- |", *rows])


def _how_trained(config):
    """The card's lines on the training, from config.json."""
    args = config.get("training_arguments") or {}
    dataset = config.get("dataset") or "unknown data"
    classes = config.get("class_names")
    count = config.get("num_train_images")
    sha = config.get("data_sha256")
    trained = [f"- command: {_code(config['command'])}" if config.get("command") else None,
               f"- data: {_line(config.get('data_source') or dataset)}"
               + (f", {count:,} images" if count else "")
               + (f" (SHA-256 of the images' bytes: `{sha}`)" if sha else ""),
               f"- the data's licence: {_line(config['data_license'])}" if config.get("data_license") else None,
               f"- classes: {', '.join(map(_line, classes))}" if classes else "- classes: not recorded",
               f"- epochs: {config.get('epochs_trained', '?')}, batch size "
               f"{args.get('batch_size', '?')}, seed {config.get('seed', '?')}",
               f"- recipe: {_line(config.get('recipe') or 'the article’s')}",
               f"- weights: {_line(config.get('weights', 'the generator'))}",
               _time(config)]
    trained = [line for line in trained if line]
    if args.get("ema"):
        trained.append(f"- `--ema {args['ema']}`: an average of the generator's weights")
    versions = config.get("library_versions") or {}
    if versions:
        trained.append("- libraries: " + _line(", ".join(f"{k} {v}" for k, v in versions.items())))
    return trained


def _time(config):
    """The card's line on how long the training took, and where."""
    seconds, where = config.get("training_seconds"), config.get("trained_on")
    if seconds is None:
        return None
    return (f"- training time: {seconds / 60:.1f} minutes ({seconds:,.0f} s)"
            + (f" on {_line(where)}" if where else ""))


def _files(hashes, conditional):
    """The card's table of files, with the SHA-256 of each (the card's own
    aside: it holds them)."""
    rows = [("model.safetensors", "the generator's state_dict"),
            ("config.json", "the constructor's arguments (`inputDim`, `outputChannels`, "
             "`imageSize`" + (", `numClasses`" if conditional else "")
             + "), the data, class names, seed, recipe, command and scores"),
            ("generator.onnx", "the same network for ONNX Runtime (input `noise`"
             + (" and the int64 `labels` `(N,)`" if conditional else "")
             + ", output `images`, any batch size)")]
    if not hashes:
        return ["| file | what |", "| --- | --- |", *[f"| `{f}` | {what} |" for f, what in rows]]
    return ["| file | what | SHA-256 |", "| --- | --- | --- |",
            *[f"| `{f}` | {what} | `{hashes.get(f, '?')}` |" for f, what in rows]]


def _class_example(config):
    """(the class the snippets ask for, its label, a line naming it) of a
    conditional export: class 7 where there is one, else the last."""
    numClasses = config["numClasses"]
    label = min(7, numClasses - 1)
    names = config.get("class_names")
    named = names[label] if names else str(label)
    return label, named


def _how_to_load(config, name):
    """The card's snippets: from_pretrained, the article's class, ONNX Runtime."""
    n, c, s = config["inputDim"], config["outputChannels"], config["imageSize"]
    if config.get("numClasses") is None:
        return [
            "```python",
            "from pyimagesearch.hub import DCGANGenerator",
            f"gen = DCGANGenerator.from_pretrained(\"{name}\").eval()   # or a Hub repository id",
            f"images = gen(torch.randn(16, {n}, 1, 1))  # (16, {c}, {s}, {s}) in [-1, 1]",
            "```",
            "",
            "With the article's class and safetensors alone:",
            "",
            "```python",
            "from safetensors.torch import load_file",
            f"gen = Generator(inputDim={n}, outputChannels={c})"
            + ("" if s == 28 else "   # at 32 or 64: pyimagesearch.models"),
            f"gen.load_state_dict(load_file(\"{name}/model.safetensors\"))",
            "```",
            "",
            "Without PyTorch, with ONNX Runtime:",
            "",
            "```python",
            "import numpy as np, onnxruntime",
            f"session = onnxruntime.InferenceSession(\"{name}/generator.onnx\")",
            f"images = session.run(None, {{\"noise\": np.random.randn(16, {n}, 1, 1)"
            ".astype(np.float32)})[0]",
            "```"]
    k = config["numClasses"]
    label, named = _class_example(config)
    return [
        "```python",
        "from pyimagesearch.hub import DCGANGenerator",
        f"gen = DCGANGenerator.from_pretrained(\"{name}\").eval()   # or a Hub repository id",
        f"labels = torch.full((16,), {label})                     # the class asked for: "
        f"{named!r} (0 to {k - 1})",
        f"images = gen(torch.randn(16, {n}, 1, 1), labels)  # (16, {c}, {s}, {s}) in [-1, 1]",
        "```",
        "",
        f"With the article's class and safetensors alone: the article's `Generator` fed the "
        f"noise followed by a one-hot code of the class ({n} + {k} input values):",
        "",
        "```python",
        "from safetensors.torch import load_file",
        "from torch.nn.functional import one_hot",
        f"gen = Generator(inputDim={n + k}, outputChannels={c})"
        + ("" if s == 28 else "   # at 32 or 64: pyimagesearch.models"),
        f"state = load_file(\"{name}/model.safetensors\")",
        "del state[\"numClasses\"]                      # the class count, kept as a buffer",
        "gen.load_state_dict(state)",
        f"code = one_hot(labels, {k}).float()[:, :, None, None]        # (16, {k}, 1, 1)",
        f"images = gen(torch.cat((torch.randn(16, {n}, 1, 1), code), 1))",
        "```",
        "",
        "Without PyTorch, with ONNX Runtime (the labels: int64 class numbers, one per image: "
        f"exactly as many as the noise vectors, each from 0 to {k - 1}; the graph does not "
        "check them, and an empty or out-of-range label draws with no class code):",
        "",
        "```python",
        "import numpy as np, onnxruntime",
        f"session = onnxruntime.InferenceSession(\"{name}/generator.onnx\")",
        f"images = session.run(None, {{\"noise\": np.random.randn(16, {n}, 1, 1)"
        f".astype(np.float32), \"labels\": np.full(16, {label}, dtype=np.int64)}})[0]",
        "```"]


def _truncation(config):
    """The card's section on the truncation trick: how to truncate the
    noise (in PyTorch and, before the ONNX graph, in NumPy), the folder's
    recommended T and, when recorded, the measured curve."""
    n = config["inputDim"]
    T = config.get("truncation")
    shown = 1.5 if T is None else T
    lines = [
        "The truncation trick (Brock et al., BigGAN, 2019) trades variety for fidelity "
        "without retraining: draw the noise from a normal truncated to [-T, T] (every "
        "component beyond T drawn again). A lower T gives more faithful, more alike images."
        + (f" This generator's recommended T is **{T:g}** (the demo's default)." if T is not None
           else " This export recommends no T: untruncated noise is the default."),
        "",
        "With the companion code's package, `DCGANGenerator` draws it: `gen.noise(16)` is "
        + ("noise at the recommended T" if T is not None else "untruncated noise")
        + f", `gen.noise(16, truncation={shown:g})` at another T. Without it:",
        "",
        "```python",
        f"def truncated_noise(num, T={shown:g}):        # every component within [-T, T]",
        f"    z = torch.randn(num, {n}, 1, 1)",
        "    while (outside := z.abs() > T).any():",
        "        z[outside] = torch.randn(int(outside.sum()))",
        "    return z",
        "```",
        "",
        "The ONNX graph takes the noise as its input, so the truncation happens before it, "
        "in NumPy:",
        "",
        "```python",
        f"z = np.random.randn(16, {n}, 1, 1)",
        f"while (outside := np.abs(z) > {shown:g}).any():",
        "    z[outside] = np.random.randn(outside.sum())",
        "```",
        "",
        f"`python generate.py --checkpoint THIS_FOLDER --output samples.png --truncation {shown:g}` "
        "does it for you; `python evaluate.py --checkpoint THIS_FOLDER --truncation-curve` "
        "measures the price."]
    curve = config.get("truncation_curve")
    if curve:
        referee = any(row.get("referee_as_asked") is not None for row in curve)
        told = any(row.get("as_asked") is not None for row in curve)

        def pct(v):
            return "–" if v is None else f"{v:.1%}"

        def worst(row, prefix=""):
            value = row.get(prefix + "worst_as_asked")
            return "–" if value is None else f"{_cell(str(row.get(prefix + 'worst_class')))}: {value:.1%}"

        head = ["T"] + (["as asked", "worst class"] if told else []) \
            + (["as asked (referee)", "worst class (referee)"] if referee else []) \
            + ["FLD", "precision", "recall"]
        rows = []
        for row in curve:
            cells = ["none" if row.get("truncation") is None else f"{row['truncation']:g}"]
            if told:
                cells += [pct(row.get("as_asked")), worst(row)]
            if referee:
                cells += [pct(row.get("referee_as_asked")), worst(row, "referee_")]
            cells += ["–" if row.get(k) is None else f"{row[k]:.{d}f}"
                      for k, d in (("fld", 2), ("precision", 3), ("recall", 3))]
            rows.append("| " + " | ".join(cells) + " |")
        lines += ["", "Measured at each T (the evaluator's FLD, precision and recall; "
                  "\"as asked\": how often the class drawn is the class asked for"
                  + (", read by the evaluator and by the referee, a stronger classifier "
                     "(the companion code's benchmarks/referee.py)" if referee else "")
                  + f"; {(config.get('scores') or {}).get('num_samples') or 10000:,} samples each):",
                  "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head), *rows]
    return "\n".join(lines)


def model_card(config, name="THIS_FOLDER", hashes=None):
    """README.md's text for an export described by `config` (config.json),
    loaded from the folder (or Hub repository) `name`; hashes: {file name:
    SHA-256} of the folder's other files."""
    name = json.dumps(name)[1:-1]       # fits in the snippets' "...", whatever the folder's name
    shape = describe(config["imageSize"], config["outputChannels"])
    dataset = config.get("dataset") or "unknown data"
    conditional = config.get("numClasses") is not None
    tags = ["dcgan", "gan", "pyimagesearch", dataset] + (["class-conditional"] if conditional else [])
    trained = _how_trained(config)
    told = ""
    if conditional:
        label, named = _class_example(config)
        told = (f" It is class-conditional (`dcgan_mnist.py --conditional`): each image is "
                f"drawn as the class it is told, a label from 0 to {config['numClasses'] - 1} "
                f"(label {label} is {named!r}), so the call takes the labels `(N,)` besides "
                "the noise.")
    return "\n".join([
        "---",
        "library_name: pytorch",
        *([f"license: {config['license']}"] if config.get("license") else []),
        # the Hub has no pipeline for a class-conditional generator
        *([] if conditional else ["pipeline_tag: unconditional-image-generation"]),
        "tags:", *[f"- {t}" for t in tags],
        "---",
        "",
        f"# DCGAN generator, {shape}, trained on {dataset}",
        "",
        "The generator of PyImageSearch's tutorial \"Training a DCGAN in PyTorch\" "
        "(Devjyoti Chakraborty, 2021), trained with its companion code's `dcgan_mnist.py`: "
        f"it turns {config['inputDim']} normal noise values, shape `(N, {config['inputDim']}, 1, 1)`, "
        f"into {shape} images, shape `(N, {config['outputChannels']}, {config['imageSize']}, "
        f"{config['imageSize']})`, with pixels in [-1, 1] (`(x + 1) / 2` gives [0, 1]). "
        "The state_dict keeps the article's layer names (`ct1`, `batchNorm1`, ...), so the "
        "article's own `Generator` loads it." + told,
        "",
        "## How it was trained",
        "",
        *trained,
        "",
        "## How it scores",
        "",
        _scores(config, name),
        "",
        "## How to load it",
        "",
        "With the companion code's package (huggingface_hub's `PyTorchModelHubMixin`):",
        "",
        *_how_to_load(config, name),
        "",
        "## Fidelity or variety: truncation",
        "",
        _truncation(config).replace("THIS_FOLDER", name),
        "",
        f"`python generate.py --checkpoint {name} --output samples.png` draws a montage, "
        f"`python demo.py --checkpoint {name}` opens the demo page.",
        "",
        "## Files",
        "",
        *_files(hashes, conditional),
        "",
    ])
