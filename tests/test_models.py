"""The models are the article's, exactly."""

import torch
from torch import nn

from reference import article
from reference.article import weights_init
from pyimagesearch.dcgan import Discriminator, Generator


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_article():
    assert count(Generator(inputDim=100, outputChannels=1)) == 312_256
    assert count(Discriminator(depth=1)) == 1_640_033


def test_the_generator_takes_its_sizes_from_its_arguments():
    assert Generator().eval()(torch.randn(5, 100, 1, 1)).shape == (5, 1, 28, 28)
    gen = Generator(inputDim=64, outputChannels=3).eval()
    assert gen(torch.randn(2, 64, 1, 1)).shape == (2, 3, 28, 28)


def test_the_discriminator_gives_one_verdict_per_image_of_its_depth():
    assert Discriminator(depth=1)(torch.randn(7, 1, 28, 28)).shape == (7, 1)
    assert Discriminator(depth=3)(torch.randn(2, 3, 28, 28)).shape == (2, 1)


def test_layer_order_and_names_are_the_articles():
    assert [name for name, _ in Generator().named_children()] == [
        "ct1", "relu1", "batchNorm1", "ct2", "relu2", "batchNorm2",
        "ct3", "relu3", "batchNorm3", "ct4", "tanh"]
    assert [name for name, _ in Discriminator(1).named_children()] == [
        "conv1", "leakyRelu1", "conv2", "leakyRelu2", "fc1", "leakyRelu3",
        "fc2", "sigmoid"]


def test_hyper_parameters_are_the_articles():
    gen, disc = Generator(), Discriminator(1)
    assert [(m.kernel_size, m.stride, m.padding, m.bias) for m in
            (gen.ct1, gen.ct2, gen.ct3, gen.ct4)] == [
        ((4, 4), (2, 2), (0, 0), None), ((3, 3), (2, 2), (1, 1), None),
        ((4, 4), (2, 2), (1, 1), None), ((4, 4), (2, 2), (1, 1), None)]
    assert disc.leakyRelu1.negative_slope == 0.2
    assert Discriminator(1, alpha=0.1).leakyRelu3.negative_slope == 0.1


def test_state_dict_from_the_articles_classes_loads_strictly_and_agrees():
    torch.manual_seed(0)
    theirs = (article.Generator(), article.Discriminator(depth=1))
    ours = (Generator(), Discriminator(depth=1))
    z = torch.randn(4, 100, 1, 1)
    for a, b in zip(theirs, ours):
        a.apply(weights_init)
        assert list(a.state_dict()) == list(b.state_dict())
        b.load_state_dict(a.state_dict(), strict=True)
        a.eval(), b.eval()
    assert torch.equal(theirs[0](z), ours[0](z))
    x = theirs[0](z)
    assert torch.equal(theirs[1](x), ours[1](x))


def test_weights_init_statistics():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 4)
    convT = nn.ConvTranspose2d(64, 64, 4)
    bn = nn.BatchNorm2d(50_000)
    linear = nn.Linear(100, 100)
    linearBefore = linear.weight.detach().clone()
    for m in (conv, convT, bn, linear):
        weights_init(m)
    for w in (conv.weight, convT.weight):
        assert abs(w.mean().item()) < 0.001
        assert abs(w.std().item() - 0.02) < 0.001
    assert abs(bn.weight.mean().item() - 1.0) < 0.001
    assert abs(bn.weight.std().item() - 0.02) < 0.001
    assert torch.count_nonzero(bn.bias) == 0
    assert torch.equal(linear.weight, linearBefore)     # Linear is left alone
