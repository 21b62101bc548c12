"""generate.py --export DIR: a folder that huggingface_hub's mixin and ONNX
Runtime load, drawing what the checkpoint draws; the scripts take the folder
back; bad folders and files are one line each, and nothing is half-written."""

import json
import os
import shutil

import numpy as np
import onnxruntime
import pytest
import torch
from safetensors.torch import load_file

from reference import article
from conftest import make_idx_folder, one_line, run_script, snapshot, train, usage_error
from pyimagesearch.hub import DCGANGenerator
from pyimagesearch.models import SizedGenerator
from pyimagesearch.sampling.latent import noise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 1-epoch run scored at its end, and its export."""
    root = tmp_path_factory.mktemp("export")
    data = make_idx_folder(root / "data")
    assert train(root / "run", data, "-e", "1", "-b", "32", "--eval-every", "1",
                 "--eval-num", "256").returncode == 0
    result = run_script("generate.py", "--checkpoint", root / "run" / "checkpoint.pt",
                        "--export", root / "my-dcgan")
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
