"""--ema: the averaging arithmetic, BatchNorm re-estimation, saving,
resuming and sampling from the averaged generator."""

import cv2
import pytest
import torch
from torch import nn

from reference import article
from conftest import run_script, train
from pyimagesearch.dcgan import Generator
from pyimagesearch.training.ema import (RECALIBRATION_BATCH_SIZE, RECALIBRATION_BATCHES,
                               RECALIBRATION_SEED, GeneratorEMA, decay_at)


def test_update_is_the_exponential_moving_average_by_hand():
    live = nn.Linear(2, 1, bias=False)
    live.weight.data = torch.tensor([[1.0, 2.0]])
    ema = GeneratorEMA(live, decay=0.9, warmup=False)
    live.weight.data = torch.tensor([[3.0, -2.0]])
    ema.update(live)                 # 0.9 * [1, 2] + 0.1 * [3, -2]
    assert torch.allclose(ema.model.weight, torch.tensor([[1.2, 1.6]]))
    live.weight.data = torch.tensor([[0.0, 0.0]])
    ema.update(live)                 # 0.9 * [1.2, 1.6]
    assert torch.allclose(ema.model.weight, torch.tensor([[1.08, 1.44]]))
    assert not ema.model.weight.requires_grad


def test_warm_up_follows_the_live_weights_early():
    assert decay_at(0.999, 0) == 0.1                  # (1 + 0) / (10 + 0)
    assert abs(decay_at(0.999, 90) - 0.91) < 1e-12    # 91 / 100
    assert decay_at(0.999, 100_000) == 0.999
    assert decay_at(0.999, 0, warmup=False) == 0.999
    live = nn.Linear(2, 1, bias=False)
    live.weight.data = torch.tensor([[1.0, 2.0]])
    ema = GeneratorEMA(live, decay=0.999)
    live.weight.data = torch.tensor([[3.0, -2.0]])
    ema.update(live)                 # 0.1 * [1, 2] + 0.9 * [3, -2]
    assert torch.allclose(ema.model.weight, torch.tensor([[2.8, -1.6]]))


def test_batchnorm_statistics_are_re_estimated_for_the_averaged_weights():
    torch.manual_seed(0)
    gen = Generator()
    gen.apply(article.weights_init)
    ema = GeneratorEMA(gen, decay=0.5)
    for _ in range(3):                       # move the live weights, average them
        for p in gen.parameters():
            p.data.add_(torch.randn_like(p) * 0.01)
        ema.update(gen)
    model = ema.recalibrate()
    # by hand: batch statistics of ReLU(ct1(z)) over the same noise batches
    g = torch.Generator().manual_seed(RECALIBRATION_SEED)
    means, variances = [], []
    with torch.no_grad():
        for _ in range(RECALIBRATION_BATCHES):
            z = torch.randn(RECALIBRATION_BATCH_SIZE, 100, 1, 1, generator=g)
            a = model.relu1(model.ct1(z))
            means.append(a.mean((0, 2, 3)))
            variances.append(a.var((0, 2, 3), unbiased=True))
    assert torch.allclose(model.batchNorm1.running_mean, torch.stack(means).mean(0), atol=1e-6)
    assert torch.allclose(model.batchNorm1.running_var, torch.stack(variances).mean(0), rtol=1e-4)
    assert not model.training
    # the live generator's statistics are not what the average uses
    assert not torch.allclose(model.batchNorm1.running_mean, gen.batchNorm1.running_mean)


@pytest.mark.slow
def test_ema_run_saves_resumes_exactly_and_samples(tmp_path, tiny_data):
    plain, whole, parts = tmp_path / "plain", tmp_path / "whole", tmp_path / "parts"
    assert train(plain, tiny_data, "-e", "2", "-b", "16").returncode == 0
    assert train(whole, tiny_data, "-e", "2", "-b", "16", "--ema", "0.9").returncode == 0
    assert train(parts, tiny_data, "-e", "2", "-b", "16", "--ema", "0.9",
                 "--stop-after", "1").returncode == 0
    refused = train(parts, tiny_data, "--resume", "--ema", "0.99")
    assert refused.returncode == 2 and "--ema" in refused.stderr
    assert train(parts, tiny_data, "--resume").returncode == 0

    load = lambda p: torch.load(p, weights_only=True)   # noqa: E731
    a, b = load(whole / "checkpoint.pt"), load(parts / "checkpoint.pt")
    assert a["ema"]["steps"] == 2 * 6 and a["ema"]["decay"] == 0.9
    for k in a["ema"]["model"]:
        assert torch.equal(a["ema"]["model"][k], b["ema"]["model"][k]), k
    # the average does not touch training: the trained generator is the plain run's
    g0, g1 = load(plain / "generator.pth"), load(whole / "generator.pth")
    assert all(torch.equal(g0[k], g1[k]) for k in g0)
    emaWeights = load(whole / "generator_ema.pth")
    assert not torch.equal(emaWeights["ct1.weight"], g1["ct1.weight"])

    images = {}
    for name, path, weights in (("auto", whole / "checkpoint.pt", "auto"),
                                ("ema", whole / "checkpoint.pt", "ema"),
                                ("live", whole / "checkpoint.pt", "live"),
                                ("pth", whole / "generator_ema.pth", "auto")):
        out = tmp_path / f"{name}.png"
        result = run_script("generate.py", "--checkpoint", path, "--output", out,
                            "--weights", weights)
        assert result.returncode == 0, result.stderr
        images[name] = cv2.imread(str(out))
    assert (images["auto"] == images["ema"]).all()
    assert (images["pth"] == images["ema"]).all()      # generator_ema.pth = the checkpoint's EMA
    assert not (images["live"] == images["ema"]).all()
    noEma = run_script("generate.py", "--checkpoint", plain / "checkpoint.pt",
                       "--output", tmp_path / "x.png", "--weights", "ema")
    assert noEma.returncode == 1 and "no EMA" in noEma.stderr
