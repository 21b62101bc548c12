"""generate.py --export DIR: a folder that huggingface_hub's mixin and ONNX
Runtime load, drawing what the checkpoint draws; the scripts take the folder
back; bad folders and files are one line each, and nothing is half-written."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch
from safetensors.torch import load_file, save_file

from reference import article
from conftest import (ROOT, default_signals, make_idx_folder, one_line, run_script, snapshot,
                      train, usage_error, wait_for)
from pyimagesearch.hub import DCGANGenerator
from pyimagesearch.models import SizedGenerator
from pyimagesearch.sampling.latent import noise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 1-epoch run scored at its end, and its export."""
    return trained_and_exported(tmp_path_factory.mktemp("export"), "my-dcgan", "-e", "1",
                                "-b", "32", "--eval-every", "1")


def trained_and_exported(root, name, *options):
    """A tiny run in root/run, scored (--eval-num 256), exported to root/name."""
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, *options, "--eval-num", "256").returncode == 0
    result = run_script("generate.py", "--checkpoint", root / "run" / "checkpoint.pt",
                        "--export", root / name)
    assert result.returncode == 0, result.stderr
    return root


def article_generator(path):
    gen = article.Generator(inputDim=100, outputChannels=1)
    gen.load_state_dict(torch.load(path, weights_only=True))
    return gen.eval()


def test_the_folder_loads_through_the_mixin_and_onnx_and_draws_the_same(exported):
    folder = exported / "my-dcgan"
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "generator.onnx",
                                          "model.safetensors"]
    z = noise(16, 3)
    with torch.no_grad():
        expected = article_generator(exported / "run" / "generator.pth")(z)
        hub = DCGANGenerator.from_pretrained(str(folder)).eval()
        assert torch.equal(hub(z), expected)
    session = onnxruntime.InferenceSession(str(folder / "generator.onnx"),
                                           providers=["CPUExecutionProvider"])
    for batch in (1, 16):                        # any batch size
        got = session.run(None, {"noise": z[:batch].numpy()})[0]
        assert got.shape == (batch, 1, 28, 28)
        assert np.abs(got - expected[:batch].numpy()).max() <= 1e-5
    # the article's own class takes the safetensors as they are
    plain = article.Generator(inputDim=100, outputChannels=1)
    plain.load_state_dict(load_file(folder / "model.safetensors"), strict=True)


def test_config_and_card_say_what_the_model_is(exported):
    config = json.loads((exported / "my-dcgan" / "config.json").read_text())
    run = json.loads((exported / "run" / "run.json").read_text())
    assert (config["inputDim"], config["outputChannels"], config["imageSize"],
            config["channels"]) == (100, 1, 28, 1)
    assert config["dataset"] == "mnist" and config["class_names"] == list("0123456789")
    assert config["seed"] == 42 and config["epochs_trained"] == 1
    assert config["scores"]["fld"] == pytest.approx(run["metrics"][-1]["fld"])
    assert "output" not in config["training_arguments"]        # no path of this machine
    card = (exported / "my-dcgan" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: pytorch\n")
    assert 'DCGANGenerator.from_pretrained("my-dcgan")' in card
    assert f"{run['metrics'][-1]['fld']:.1f}" in card
    # the command that trained it, its time, the data's licence, each file's SHA-256
    assert run["command"] == ("python dcgan_mnist.py --output OUTPUT --epochs 1 --batch-size 32 "
                              "--data-dir DIR --eval-every 1 --eval-num 256")
    assert config["command"] == run["command"] and f"`{run['command']}`" in card
    assert config["training_seconds"] == pytest.approx(sum(run["seconds_per_epoch"]), abs=0.1)
    assert "training time:" in card and config["trained_on"] == run["device"]
    assert "\nlicense: cc-by-sa-3.0\n" in card and "Attribution-Share Alike 3.0" in card
    for name in ("model.safetensors", "config.json", "generator.onnx"):
        digest = hashlib.sha256((exported / "my-dcgan" / name).read_bytes()).hexdigest()
        assert f"| `{name}` |" in card and f"`{digest}` |" in card


def test_generate_and_evaluate_take_the_folder(exported, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run_script("generate.py", "--checkpoint", exported / "run" / "generator.pth",
                      "--output", a).returncode == 0
    assert run_script("generate.py", "--checkpoint", exported / "my-dcgan",
                      "--output", b).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    result = run_script("evaluate.py", "--checkpoint", exported / "my-dcgan", "--num", "256",
                        "--data-dir", exported / "data")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["num_samples"] == 256
    result = run_script("generate.py", "--checkpoint", exported / "my-dcgan", "--output",
                        tmp_path / "c.png", "--langevin")
    assert result.returncode == 1
    assert "generator's weights only" in one_line(result.stderr)


def test_a_colour_64_generator_exports_too(tmp_path):
    assert run_script("dcgan_mnist.py", "-o", tmp_path / "run", "--dataset", "fake", "--limit",
                      "32", "-e", "1", "-b", "16", "--image-size", "64", "--channels", "3",
                      "--no-progress").returncode == 0
    result = run_script("generate.py", "--checkpoint", tmp_path / "run" / "checkpoint.pt",
                        "--export", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    gen = SizedGenerator(inputDim=100, outputChannels=3, imageSize=64)
    gen.load_state_dict(torch.load(tmp_path / "run" / "generator.pth", weights_only=True))
    hub = DCGANGenerator.from_pretrained(str(tmp_path / "out")).eval()
    z = noise(4, 0)
    with torch.no_grad():
        assert torch.equal(hub(z), gen.eval()(z))
    session = onnxruntime.InferenceSession(str(tmp_path / "out" / "generator.onnx"),
                                           providers=["CPUExecutionProvider"])
    assert session.run(None, {"noise": z.numpy()})[0].shape == (4, 3, 64, 64)


def test_an_export_folder_that_holds_files_is_refused_untouched(exported, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    before = snapshot(taken)
    result = run_script("generate.py", "--checkpoint", exported / "run" / "checkpoint.pt",
                        "--export", taken)
    usage_error(result, "--export", "holds other files")
    assert snapshot(taken) == before


def test_a_failed_export_leaves_nothing(exported, tmp_path, monkeypatch):
    from pyimagesearch.sharing import export

    def broken(*args):
        raise export.ExportError("the ONNX export draws other images than PyTorch")
    monkeypatch.setattr(export, "check_onnx", broken)
    result = run_script("generate.py", "--checkpoint", exported / "run" / "checkpoint.pt",
                        "--export", tmp_path / "new")
    assert result.returncode == 1
    assert "ONNX" in one_line(result.stderr)
    assert os.listdir(tmp_path) == []                  # no folder, no partial one


@pytest.mark.parametrize("case", ["corrupt weights", "config does not fit", "config not json",
                                  "no config"])
def test_a_bad_exported_folder_is_one_line(exported, tmp_path, case):
    folder = tmp_path / "copy"
    shutil.copytree(exported / "my-dcgan", folder)
    config = json.loads((folder / "config.json").read_text())
    if case == "corrupt weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[:len(data) // 2])
        said = "not a readable safetensors file"
    elif case == "config does not fit":
        (folder / "config.json").write_text(json.dumps({**config, "imageSize": 32}))
        said = "config.json does not fit model.safetensors"
    elif case == "config not json":
        (folder / "config.json").write_text("{ inputDim: 100")
        said = "not readable JSON"
    else:
        os.remove(folder / "config.json")
        said = "without config.json"
    for script, extra in (("generate.py", ["--output", tmp_path / "x.png"]),
                          ("evaluate.py", ["--num", "256"])):
        result = run_script(script, "--checkpoint", folder, *extra)
        assert result.returncode == 1, result.stderr
        assert said in one_line(result.stderr)
    assert not (tmp_path / "x.png").exists()


def test_a_hub_id_that_cannot_be_downloaded_is_one_line(tmp_path):
    result = run_script("generate.py", "--checkpoint", "nobody/no-such-dcgan", "--output",
                        tmp_path / "x.png", subprocess_=True, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "not downloadable from the Hugging Face Hub" in one_line(result.stderr)


# ------------------------------------------------ nothing of this machine leaves

def test_no_path_of_this_machine_is_in_any_file_of_the_export(exported):
    """The folder is meant for the Hub: the data are named by kind, folder
    name and SHA-256, and the ONNX file keeps no stack traces (they name the
    source files)."""
    folder = exported / "my-dcgan"
    for name in os.listdir(folder):
        data = (folder / name).read_bytes()
        for path in (str(exported), ROOT, sys.prefix):
            assert path.encode() not in data, (name, path)
    config = json.loads((folder / "config.json").read_text())
    run = json.loads((exported / "run" / "run.json").read_text())
    assert config["data_source"] == "IDX files in a folder named 'data'"
    assert config["data_sha256"] == run["data_sha256"]
    assert run["data_sha256"] in (folder / "README.md").read_text()
    assert run["data_source"] == f"IDX files in {exported / 'data'}"     # the record keeps it


def test_an_old_export_with_a_path_loses_it_when_exported_again(exported, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(exported / "my-dcgan", old)
    config = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps(
        {**config, "data_source": "image folder /home/alice/digits (96 images, 10 classes)"}))
    result = run_script("generate.py", "--checkpoint", old, "--export", tmp_path / "new")
    assert result.returncode == 0, result.stderr
    for name in os.listdir(tmp_path / "new"):
        assert b"/home/alice" not in (tmp_path / "new" / name).read_bytes()
    said = "an image folder named 'digits' (96 images, 10 classes)"
    assert json.loads((tmp_path / "new" / "config.json").read_text())["data_source"] == said
    assert run_script("generate.py", "--checkpoint", tmp_path / "new", "--export",
                      tmp_path / "again").returncode == 0             # kept as it is
    assert json.loads((tmp_path / "again" / "config.json").read_text())["data_source"] == said


# ------------------------------------------------ config.json checked whole

NESTED = "[" * 200_000 + "]" * 200_000
BAD_CONFIGS = [                        # (field, value, what the line names)
    ("seed", "7", "'seed'"), ("seed", 2**64, "'seed'"), ("seed", 1.5, "'seed'"),
    ("dataset", "imagenet", "'dataset'"),
    ("class_names", "0123456789", "'class_names'"), ("class_names", ["0", "1"], "'class_names'"),
    ("class_names", list(range(10)), "'class_names["),
    ("scores", {"fld": "low"}, "'scores.fld'"), ("scores", {"fld": float("nan")}, "'scores.fld'"),
    ("scores", [], "'scores'"),
    ("training_arguments", "x", "'training_arguments'"),
    ("training_arguments", {"dataset": "nope"}, "'training_arguments.dataset'"),
    ("training_arguments", {"invert": 3}, "'training_arguments.invert'"),
    ("training_arguments", {"limit": -5}, "'training_arguments.limit'"),
    ("library_versions", ["torch"], "'library_versions'"),
    ("num_train_images", "many", "'num_train_images'"), ("epochs_trained", -1, "'epochs_trained'"),
    ("format_version", 2, "'format_version'"), ("channels", True, "'channels'"),
    ("self", 1, "'self'"),
    ("NESTED", None, "nested too deeply"), ("HUGE", None, "over 1,024 KiB"),
]


@pytest.mark.parametrize("field, value, said", BAD_CONFIGS,
                         ids=[f"{f}={str(v)[:20]}" for f, v, _ in BAD_CONFIGS])
def test_a_config_json_the_code_cannot_use_is_one_line_naming_the_field(
        exported, tmp_path, field, value, said):
    folder = tmp_path / "copy"
    shutil.copytree(exported / "my-dcgan", folder)
    config = json.loads((folder / "config.json").read_text())
    if field == "NESTED":
        text = NESTED
    elif field == "HUGE":                 # valid JSON, and far too big for a config.json
        text = json.dumps(config) + " " * (2 << 20)
    else:
        text = json.dumps({**config, field: value})
    (folder / "config.json").write_text(text)
    for script, extra in (("generate.py", ["--output", tmp_path / "x.png"]),
                          ("evaluate.py", ["--num", "256", "--data-dir", exported / "data"])):
        result = run_script(script, "--checkpoint", folder, *extra)
        assert result.returncode == 1, (script, result.stderr)
        line = one_line(result.stderr)
        assert "config.json" in line and said in line, line
    assert not (tmp_path / "x.png").exists()


def test_the_copied_dataset_names_are_the_data_layers():
    from pyimagesearch import exported
    from pyimagesearch.data.folder import INVERT_CHOICES
    from pyimagesearch.data.sources import DATASETS
    assert exported.DATASETS == DATASETS and exported.INVERT_CHOICES == INVERT_CHOICES


def test_from_pretrained_refuses_a_config_the_scripts_refuse(exported, tmp_path):
    from pyimagesearch.exported import ExportError
    folder = tmp_path / "copy"
    shutil.copytree(exported / "my-dcgan", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "seed": "x"}))
    with pytest.raises(ExportError, match="'seed'"):
        DCGANGenerator.from_pretrained(str(folder))


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool])
def test_integer_or_boolean_weights_are_refused_not_cast(exported, tmp_path, dtype):
    folder = tmp_path / "copy"
    shutil.copytree(exported / "my-dcgan", folder)
    state = load_file(folder / "model.safetensors")
    state["ct1.weight"] = state["ct1.weight"].to(dtype)
    save_file(state, folder / "model.safetensors")
    result = run_script("generate.py", "--checkpoint", folder, "--output", tmp_path / "x.png")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "'ct1.weight'" in line and str(dtype).removeprefix("torch.") in line


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_fifo_in_the_folder_is_refused_without_waiting(exported, tmp_path, name):
    folder = tmp_path / "copy"
    shutil.copytree(exported / "my-dcgan", folder)
    os.remove(folder / name)
    os.mkfifo(folder / name)              # reading it would wait for a writer forever
    result = run_script("generate.py", "--checkpoint", folder, "--output", tmp_path / "x.png",
                        subprocess_=True, timeout=60)
    assert result.returncode == 1
    assert f"{name}: is not a regular file" in one_line(result.stderr)


# ------------------------------------------------ whole or nothing, however it ends

@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_onnx_export_is_one_line_and_leaves_nothing(
        exported, tmp_path, signum, status):
    """torch.onnx.export catches what its tracing raises, Ctrl-C too (and
    tries another way, or wraps it): the signal still ends the export."""
    marker = tmp_path / "tracing"
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "slow_onnx.py"), str(marker), "generate.py",
         "--checkpoint", str(exported / "run" / "checkpoint.pt"), "--export", str(out / "new")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals)
    try:
        wait_for(marker, proc)
        assert os.listdir(out) != []               # the partial folder, being written
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert one_line(stderr).startswith("[INFO] interrupted")
    assert os.listdir(out) == []


def test_the_next_export_removes_what_a_killed_one_left_and_only_that(exported, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".new.partial-{dead.pid}-abcd1234"
    live = tmp_path / f".new.partial-{os.getpid()}-abcd1234"         # an export running now
    other = tmp_path / f".other.partial-{dead.pid}-abcd1234"         # another folder's
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    result = run_script("generate.py", "--checkpoint", exported / "run" / "checkpoint.pt",
                        "--export", tmp_path / "new")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, "new"])


def test_an_export_to_a_symbolic_link_is_refused_before_any_work(exported, tmp_path):
    (tmp_path / "empty").mkdir()
    os.symlink(tmp_path / "empty", tmp_path / "link")
    result = run_script("generate.py", "--checkpoint", exported / "run" / "checkpoint.pt",
                        "--export", tmp_path / "link")
    usage_error(result, "--export", "symbolic link")
    assert result.stdout == ""                       # nothing loaded, nothing traced
    assert sorted(os.listdir(tmp_path)) == ["empty", "link"]


def test_an_export_to_the_current_folder_is_refused_before_any_work(exported, tmp_path):
    (tmp_path / "here").mkdir()                        # empty: it could be the export
    result = subprocess.run([sys.executable, os.path.join(ROOT, "generate.py"), "--checkpoint",
                             str(exported / "run" / "checkpoint.pt"), "--export", "."],
                            cwd=tmp_path / "here", capture_output=True, text=True, timeout=300)
    usage_error(result, "--export", "the current folder")
    assert result.stdout == ""
    assert os.listdir(tmp_path) == ["here"] and os.listdir(tmp_path / "here") == []


def test_a_folder_that_appears_meanwhile_is_not_written_over(exported, tmp_path, monkeypatch):
    """Two exports to one DIR at once: the second to finish says so in one
    line and leaves the first's folder as it is."""
    from pyimagesearch.sharing import export
    loaded = export.check_hub_load

    def another_export_finishes(folder, *args):
        loaded(folder, *args)
        shutil.copytree(folder, tmp_path / "new")      # the other export's rename
    monkeypatch.setattr(export, "check_hub_load", another_export_finishes)
    result = run_script("generate.py", "--checkpoint", exported / "run" / "checkpoint.pt",
                        "--export", tmp_path / "new")
    assert result.returncode == 1
    assert "appeared while the export was written" in one_line(result.stderr)
    assert sorted(os.listdir(tmp_path)) == ["new"]
    assert len(os.listdir(tmp_path / "new")) == 4


# ------------------------------------------------ --conditional

@pytest.fixture(scope="module")
def conditional_exported(tmp_path_factory):
    """A 2-epoch --conditional run, scored, and its export."""
    return trained_and_exported(tmp_path_factory.mktemp("conditional-export"), "told", "-e",
                                "2", "-b", "16", "--conditional", "--eval-every", "2")


def test_a_conditional_export_is_told_the_class_everywhere(conditional_exported):
    from pyimagesearch.checkpoint import build_generator
    folder = conditional_exported / "told"
    config = json.loads((folder / "config.json").read_text())
    assert (config["inputDim"], config["numClasses"]) == (100, 10)      # the noise, the classes
    assert config["class_names"] == list("0123456789")
    trained, _ = build_generator(conditional_exported / "run" / "checkpoint.pt")
    z, labels = noise(16, 3), torch.arange(16) % 10
    with torch.no_grad():
        expected = trained(z, labels)
        hub = DCGANGenerator.from_pretrained(str(folder)).eval()
        assert torch.equal(hub(z, labels), expected)
        assert int(hub.state_dict()["numClasses"]) == 10        # the buffer round-trips
        with pytest.raises(ValueError, match="draws the class it is told"):
            hub(z)
        built, _ = build_generator(folder)                     # what the scripts build
        assert torch.equal(built(z, labels), expected)
    assert load_file(folder / "model.safetensors")["numClasses"].dtype == torch.int64
    session = onnxruntime.InferenceSession(str(folder / "generator.onnx"),
                                           providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [
        ("noise", "tensor(float)"), ("labels", "tensor(int64)")]
    for batch in (1, 16):
        got = session.run(None, {"noise": z[:batch].numpy(),
                                 "labels": labels[:batch].numpy()})[0]
        assert np.abs(got - expected[:batch].numpy()).max() <= 1e-5
    sevens = session.run(None, {"noise": z.numpy(), "labels": np.full(16, 7, dtype=np.int64)})[0]
    assert not np.allclose(sevens, got)                       # the label changes the images
    card = (folder / "README.md").read_text()
    assert "gen(torch.randn(16, 100, 1, 1), labels)" in card and "torch.full((16,), 7)" in card
    assert '"labels": np.full(16, 7, dtype=np.int64)' in card
    assert "pipeline_tag: unconditional" not in card


def test_an_unconditional_export_has_no_classes_told(exported):
    config = json.loads((exported / "my-dcgan" / "config.json").read_text())
    assert "numClasses" not in config
    session = onnxruntime.InferenceSession(str(exported / "my-dcgan" / "generator.onnx"),
                                           providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["noise"]
    assert "pipeline_tag: unconditional-image-generation" in (
        exported / "my-dcgan" / "README.md").read_text()


@pytest.mark.parametrize("change, said", [
    ({"numClasses": 5, "class_names": None}, "it says 5 classes (a conditional generator), the weights were "
                        "trained on 10 classes"),
    ({"numClasses": 5}, "its 'class_names' has 10 entries, its 'numClasses' says 5"),
    ({"numClasses": None}, "it says no classes (an unconditional generator)"),
    ({"class_names": list("abc"), "dataset": "folder"}, "its 'class_names' has 3 entries, its 'numClasses' says 10"),
    ({"numClasses": 0}, "'numClasses' is 0")])
def test_a_conditional_config_that_does_not_fit_the_weights_is_one_line(
        conditional_exported, tmp_path, change, said):
    folder = tmp_path / "told"
    shutil.copytree(conditional_exported / "told", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    result = run_script("generate.py", "--checkpoint", folder, "--output", tmp_path / "x.png")
    assert result.returncode == 1
    assert said in one_line(result.stderr) and "Traceback" not in result.stderr
    if "numClasses" in change and change["numClasses"] == 0:
        with pytest.raises(Exception, match="numClasses"):
            DCGANGenerator.from_pretrained(str(folder))


def test_evaluate_scores_a_conditional_export_as_its_checkpoint(conditional_exported):
    results = [run_script("evaluate.py", "--checkpoint", path, "--num", "256", "--data-dir",
                          conditional_exported / "data")
               for path in (conditional_exported / "told",
                            conditional_exported / "run" / "checkpoint.pt")]
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "conditioning: the evaluator agrees with the class asked for" in result.stderr
    said = [json.loads(r.stdout.strip().splitlines()[-1]) for r in results]
    assert said[0]["fld"] == pytest.approx(said[1]["fld"])     # the same generator, built


def test_odd_values_keep_the_cards_markdown_whole():
    # a class folder named with a | or a line break, a hand-made config.json's command
    # with backticks: each stays on its line, the scores table keeps its two cells
    import json
    from conftest import ROOT
    from pyimagesearch.sharing.card import model_card
    config = json.load(open(os.path.join(ROOT, "pretrained", "mnist-conditional", "config.json")))
    config["class_names"][0] = "cats|dogs\nand more"
    config["scores"]["worst_class"] = "cats|dogs\nand more"
    config["command"] = "python dcgan_mnist.py `x`\n---\nlicense: other"
    config["trained_on"] = "cpu\n## a heading"
    card = model_card(config, "X")
    assert card.count("\n---\n") == 1 and "license: other" not in card.split("---")[1]
    assert "\n## a heading" not in card and "- command: `` python dcgan_mnist.py `x` --- " in card
    assert "- classes: cats|dogs and more, 1, 2" in card
    rows = [line for line in card.splitlines() if line.startswith("| the same, worst class")]
    assert len(rows) == 1 and rows[0].replace("\\|", "").count("|") == 3
