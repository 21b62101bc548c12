"""Training recipes that keep the article's networks: balanced consistency
regularisation, separate learning rates, top-k generator updates,
DiffAugment, and --recipe."""

import json

import pytest
import torch
from torch import nn

from conftest import load, run_script, snapshot, train, usage_error
from pyimagesearch.training.recipes import (PRESETS, Recipe, RecipeInTraining, consistency,
                                            diff_augment, recipe_of, top_k_count, translate)


class TinyD(nn.Module):
    """D~(x) = w . x + b on 1 x 2 x 2 images, then the article's Sigmoid."""

    def __init__(self):
        super().__init__()
        self.fc2 = nn.Linear(4, 1)
        with torch.no_grad():
            self.fc2.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 3.0]]))
            self.fc2.bias.fill_(0.25)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return self.sigmoid(self.fc2(torch.flatten(x, 1)))


def test_the_consistency_term_is_zero_when_the_augmentation_is_the_identity():
    images = torch.randn(6, 1, 2, 2)
    assert consistency(TinyD(), images, images.clone(), numReal=3).item() == 0
    assert torch.equal(translate(images, 0, torch.Generator(), fill=-1.0), images)


def test_the_consistency_term_matches_a_hand_computation():
    real = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])            # one real image
    fakes = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    images = torch.cat((real, fakes))
    moved = torch.full_like(images, -1.0)                        # everything moved off the image
    # logits: w . x + b with w = (1, -2, 0.5, 3), b = 0.25; moved: -2.5 + 0.25 = -2.25
    real_term = (1.25 - -2.25) ** 2                              # 12.25
    fake_term = ((3.25 - -2.25) ** 2 + (2.75 - -2.25) ** 2) / 2  # (30.25 + 25) / 2
    got = consistency(TinyD(), images, moved, numReal=1).item()
    assert got == pytest.approx(real_term + fake_term)


def test_translation_moves_each_image_by_at_most_the_shift_and_fills_the_rest():
    images = torch.arange(2 * 25, dtype=torch.float).view(2, 1, 5, 5)
    moved = translate(images, 1, torch.Generator().manual_seed(3), fill=-1.0)
    for image, out in zip(images, moved):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                expected = torch.full_like(image, -1.0)
                src = image[:, max(0, -dy):5 - max(0, dy), max(0, -dx):5 - max(0, dx)]
                expected[:, max(0, dy):5 - max(0, -dy), max(0, dx):5 - max(0, -dx)] = src
                matches.append(torch.equal(out, expected))
        assert any(matches)


def test_top_k_keeps_the_k_highest_verdicts():
    output = torch.tensor([0.1, 0.9, 0.4, 0.8, 0.2, 0.7])
    labels = torch.arange(6.0)
    recipe = RecipeInTraining(Recipe(topK=0.5), numEpochs=3)
    recipe.start_epoch(2)                                        # the last: k = 50 % of 6
    kept, keptLabels = recipe.top_k(output, labels)
    assert sorted(keptLabels.tolist()) == [1, 3, 5] and torch.equal(kept, output[keptLabels.long()])
    recipe.start_epoch(0)                                        # the first: the whole batch
    assert recipe.top_k(output, labels)[0] is output


def test_top_k_is_annealed_linearly_from_the_whole_batch():
    assert [top_k_count(128, 0.5, epoch, 5) for epoch in range(5)] == [128, 112, 96, 80, 64]
    assert top_k_count(128, 1.0, 4, 5) == 128 and top_k_count(1, 0.1, 9, 10) == 1


def test_diffaugment_keeps_shapes_and_gradients():
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    out = diff_augment(x, ("colour", "translation", "cutout"), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # cutout sets a square of half the side to 0 in every image
    cut = diff_augment(torch.ones(4, 1, 8, 8), ("cutout",), torch.Generator().manual_seed(0))
    assert ((cut == 0).flatten(1).sum(1) > 0).all()


def test_off_by_default_every_call_hands_back_what_it_was_given():
    recipe = RecipeInTraining(recipe_of({}), numEpochs=2)
    x, errorD = torch.randn(3, 1, 28, 28), torch.tensor(0.5)
    assert recipe.augment(x) is x and recipe.regularise(errorD, None, x, x) is errorD
    assert recipe.lrD == recipe.lrG == 0.0002 and recipe_of({"recipe": "article"}).is_article


def test_options_change_the_preset():
    better = PRESETS["better"]
    assert recipe_of({"recipe": "better"}) == better
    changed = recipe_of({"recipe": "better", "lr_d": 0.0004, "diffaug": "translation,colour"})
    assert changed.lrD == 0.0004 and changed.diffAug == ("translation", "colour")
    assert changed.topK == better.topK


def test_the_learning_rates_reach_the_optimizers(tmp_path, tiny_data):
    import dcgan_mnist
    seen = {}
    real = dcgan_mnist.Adam

    def spy(params, lr, **kwargs):
        params = list(params)
        seen[len(params)] = lr
        return real(params, lr=lr, **kwargs)
    dcgan_mnist.Adam = spy
    try:
        result = train(tmp_path / "out", tiny_data, "-e", "1", "--lr-d", "0.0004",
                       "--lr-g", "0.0001")
    finally:
        dcgan_mnist.Adam = real
    assert result.returncode == 0, result.stderr
    # G has 10 parameter tensors (4 convolutions, 3 BatchNorms x 2), D 8
    assert seen == {10: 0.0001, 8: 0.0004}
    saved = load(tmp_path / "out" / "checkpoint.pt")
    assert [g["lr"] for g in saved["genOpt"]["param_groups"]] == [0.0001]
    assert [g["lr"] for g in saved["discOpt"]["param_groups"]] == [0.0004]


def test_a_recipe_is_recorded_and_shown(tmp_path, tiny_data):
    out = tmp_path / "out"
    result = train(out, tiny_data, "-e", "1", "--cr", "2", "--top-k", "0.5")
    assert result.returncode == 0, result.stderr
    said = "balanced CR lambda 2 (shifts up to 1 px), top-k G updates down to 50% of the batch"
    assert said in result.stdout
    assert said in json.loads((out / "run.json").read_text())["recipe"]
    shown = run_script("generate.py", "--checkpoint", out / "checkpoint.pt", "--output",
                       tmp_path / "s.png", "--num", "4")
    assert shown.returncode == 0 and said in shown.stdout


def test_a_stopped_run_with_augmentations_resumes_exactly(tmp_path, tiny_data):
    recipe = ["--cr", "1", "--diffaug", "translation,colour,cutout", "--top-k", "0.5", "-e", "2"]
    whole = train(tmp_path / "whole", tiny_data, *recipe)
    part = train(tmp_path / "part", tiny_data, *recipe, "--stop-after", "1")
    resumed = train(tmp_path / "part", tiny_data, "--resume")
    assert whole.returncode == part.returncode == resumed.returncode == 0, resumed.stderr
    a, b = load(tmp_path / "whole" / "generator.pth"), load(tmp_path / "part" / "generator.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_resumed_run_refuses_another_recipe(tmp_path, tiny_data):
    out = tmp_path / "out"
    assert train(out, tiny_data, "-e", "2", "--stop-after", "1", "--cr", "1").returncode == 0
    before = snapshot(out)
    usage_error(train(out, tiny_data, "--resume", "--cr", "2"), "--cr",
                "differs from the checkpoint's")
    usage_error(train(out, tiny_data, "--resume", "--recipe", "better"), "--recipe",
                "differs from the checkpoint's")
    assert snapshot(out) == before


@pytest.mark.parametrize("args, option, said", [
    (["--cr", "-1"], "--cr", "must be 0 or a positive number, got -1"),
    (["--lr-d", "0"], "--lr-d", "must be a number above 0, got 0"),
    (["--lr-g", "nan"], "--lr-g", "must be a number above 0"),
    (["--recipe", "best"], "--recipe", "invalid choice: 'best'"),
    (["--top-k", "0"], "--top-k", "must be a fraction in (0, 1], got 0"),
    (["--diffaug", "flip"], "--diffaug", "'flip' is no DiffAugment policy"),
])
def test_bad_recipes_are_one_line_and_write_nothing(tmp_path, args, option, said):
    result = train(tmp_path / "out", tmp_path / "data", *args)
    usage_error(result, option, said)
    assert not (tmp_path / "out").exists()


def test_every_recipe_trains_with_amp_ema_and_eval_every(tmp_path, tiny_data, private_cache):
    out = tmp_path / "out"
    result = train(out, tiny_data, "-e", "1", "-b", "16", "--amp", "--ema", "0.9",
                   "--eval-every", "1", "--eval-num", "256", "--cr", "1", "--top-k", "0.5",
                   "--diffaug", "translation,colour,cutout", "--lr-d", "0.0001")
    assert result.returncode == 0, result.stderr
    assert (out / "generator_ema.pth").exists() and (out / "metrics.json").exists()


def test_the_consistency_term_reuses_the_main_passs_logits_to_the_same_value():
    disc, recipe = TinyD(), RecipeInTraining(Recipe(cr=2.0), numEpochs=1,
                                             generator=torch.Generator().manual_seed(0))
    recipe.watch(disc)
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    disc(torch.cat((real, fake)))                                # the D step's main pass
    reused = recipe.regularise(torch.tensor(0.0), disc, real, fake)
    assert recipe.lastLogits is None or len(recipe.lastLogits) == 6
    moved = translate(torch.cat((real, fake)), 1, torch.Generator().manual_seed(0), fill=-1.0)
    fresh = 2.0 * consistency(disc, torch.cat((real, fake)), moved, 3)
    assert torch.allclose(reused, fresh)
