# USAGE
# python dcgan_mnist.py --output output

# import the necessary packages
# NOTE(deviation 18): the article imports Generator and Discriminator from
# pyimagesearch.dcgan; model_classes gives those very classes at the default
# --image-size 28, the same pattern at 32 and 64
from pyimagesearch.models import model_classes, told
from pyimagesearch.data import to_pixels
from pyimagesearch.errors import as_script
from pyimagesearch.files import write_image
from pyimagesearch.training.options import add_training_options
from pyimagesearch.training.run import TrainingRun
from imutils import build_montages
from torch.optim import Adam
from torch.nn import BCELoss
from torch import nn
import numpy as np
import argparse
import torch
import os
import sys
# NOTE(deviation 7): the article also imports MNIST, DataLoader, ToTensor,
# transforms (the data now comes from pyimagesearch/data.py), cv2 (its
# imwrite is now files.write_image) and sklearn's shuffle (never used).

# custom weights initialization called on generator and discriminator
def weights_init(model):
    # get the class name
    classname = model.__class__.__name__

    # check if the classname contains the word "conv"
    if classname.find("Conv") != -1:
        # intialize the weights from normal distribution
        nn.init.normal_(model.weight.data, 0.0, 0.02)

    # otherwise, check if the name contains the word "BatcnNorm"
    elif classname.find("BatchNorm") != -1:
        # intialize the weights from normal distribution and set the
        # bias to 0
        nn.init.normal_(model.weight.data, 1.0, 0.02)
        nn.init.constant_(model.bias.data, 0)


def main(argv=None):
    # construct the argument parse and parse the arguments
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", required=True,
        help="path to output directory")
    ap.add_argument("-e", "--epochs", type=int, default=20,
        help="# epochs to train for")
    ap.add_argument("-b", "--batch-size", type=int, default=128,
        help="batch size for training")
    # NOTE(deviation 15): the project's own options (data, seed, device,
    # resume, metrics, ...): python dcgan_mnist.py --help
    add_training_options(ap)
    args = vars(ap.parse_args(argv))

    # NOTE(deviation 17): the run checks every option and the output folder
    # before anything is written (with --resume, the options not given
    # again become the checkpoint's, in args), and records everything the
    # article only prints (pyimagesearch/training/run.py)
    with TrainingRun(ap, args, argv) as run:
        # store the epochs and batch size in convenience variables
        NUM_EPOCHS = args["epochs"]
        BATCH_SIZE = args["batch_size"]

        # set the device we will be using
        # NOTE(deviation 16): --device (auto: CUDA, then Apple MPS, then the
        # CPU); under torchrun each process takes its own GPU; seeds set
        DEVICE = run.device

        # define data transforms
        # NOTE(deviation 1): ToTensor() then Normalize((0.5), (0.5)), the same
        # arithmetic on whole batches of uint8 images, on DEVICE
        dataTransforms = to_pixels

        # load the MNIST dataset and stack the training and testing data
        # points so we have additional training data
        # NOTE(deviation 2): from --data-dir's IDX files, torchvision's
        # download, or offline the embedded 5,000 real digits
        # NOTE(deviation 20): other data sets say their own name
        print("[INFO] loading {} dataset...".format(run.dataName))
        data = run.load_data()

        # initialize our dataloader
        # NOTE(deviation 1): the images wait on DEVICE as one uint8 tensor
        # and each shuffled batch is cut from it there, instead of a
        # DataLoader sending every batch over
        dataloader = run.dataloader(data, dataTransforms,
            batch_size=BATCH_SIZE)
        train(args, NUM_EPOCHS, DEVICE, dataloader, run)
    return 0


def train(args, NUM_EPOCHS, DEVICE, dataloader, run):
    """The article's models, optimizers and epoch loop."""
    # NOTE(deviation 18): --image-size and --channels (default 28 and 1):
    # at 28 the article's classes, at 32 and 64 the same pattern one size
    # up (pyimagesearch/models.py, docs/sizes.md); 3 channels for colour
    # NOTE(deviation 21): with --conditional the same classes told the class
    # of each image (the data's classes; pyimagesearch/models.py)
    Generator, Discriminator = model_classes(args["image_size"], run.numClasses)
    CHANNELS = args["channels"]

    # build the generator, initialize it's weights, and flash it to the
    # current device
    print("[INFO] building generator...")
    gen = Generator(inputDim=100, outputChannels=CHANNELS)
    gen.apply(weights_init)
    gen.to(DEVICE)

    # build the discriminator, initialize it's weights, and flash it to
    # the current device
    print("[INFO] building discriminator...")
    disc = Discriminator(depth=CHANNELS)
    disc.apply(weights_init)
    disc.to(DEVICE)

    # initialize optimizer for both generator and discriminator
    # NOTE(deviation 12): fused=True where the device has it: Adam's update
    # in one kernel instead of about ten small ones per tensor, same math
    # NOTE(deviation 19): the learning rates of --recipe, --lr-g, --lr-d
    # (the article's 0.0002 by default)
    genOpt = Adam(gen.parameters(), lr=run.recipe.lrG, betas=(0.5, 0.999),
        fused=run.fusedAdam,
        weight_decay=0.0002 / NUM_EPOCHS)
    discOpt = Adam(disc.parameters(), lr=run.recipe.lrD, betas=(0.5, 0.999),
        fused=run.fusedAdam,
        weight_decay=0.0002 / NUM_EPOCHS)

    # initialize BCELoss function
    criterion = BCELoss()

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning
    print("[INFO] starting training...")
    benchmarkNoise = torch.randn(256, 100, 1, 1, device=DEVICE)

    # NOTE(deviation 17): only now, every check passed, does the run write to
    # --output. With --resume it first restores what the next epoch depends
    # on (weights, Adam states, benchmark noise, random streams). It hands
    # back the modules to train: gen and disc, or with --amp/--compile
    # wrappers around the same weights.
    gen, disc, benchmarkNoise = run.start(gen, disc, genOpt, discOpt,
        benchmarkNoise)

    # loop over the epochs
    # NOTE(deviation 17): from where a resumed run stopped, to --stop-after
    for epoch in run.epochs():
        # show epoch information and compute the number of batches per
        # epoch
        print("[INFO] starting epoch {} of {}...".format(epoch + 1,
            NUM_EPOCHS))
        train_one_epoch(gen, disc, genOpt, discOpt, criterion, dataloader,
            DEVICE, run)

        # NOTE(deviation 6): also after an odd last epoch, so every run ends
        # with a picture of its final generator (the averaged one with
        # --ema); under torchrun the first process draws
        p = None
        if ((epoch + 1) % 2 == 0 or epoch + 1 == NUM_EPOCHS) and run.main:
            p = visualize(run.generator_to_draw(), benchmarkNoise, epoch, args,
                run.benchmarkClasses)

        # NOTE(deviation 17): history.csv, losses.png, checkpoint.pt, run.json
        run.end_epoch(p)

    # NOTE(deviation 17): output.gif of the montages, generator.pth
    run.finish()


def train_one_epoch(gen, disc, genOpt, discOpt, criterion, dataloader, DEVICE, run):
    """One pass over the data: the body of the article's epoch loop."""
    # define real and fake label values
    realLabel = 1
    fakeLabel = 0
    # NOTE(deviation 19): --recipe and its options, used at four places
    # below (pyimagesearch/training/recipes.py; the article's by default)
    recipe = run.recipe

    for x in dataloader:
        # zero out the discriminator gradients
        disc.zero_grad()

        # grab the images and send them to the device
        images = x[0]
        images = images.to(DEVICE)

        # get the batch size and create a labels tensor
        bs =  images.size(0)
        labels = torch.full((bs,), realLabel, dtype=torch.float,
            device=DEVICE)

        # randomly generate noise for the generator to predict on
        # NOTE(deviation 8): from a random stream of its own (an exact --resume)
        noise = torch.randn(bs, 100, 1, 1, device=DEVICE, generator=run.noiseGen)
        # NOTE(deviation 21): with --conditional, a class for each fake (from
        # a stream of its own) and the classes of all D sees, real then fake;
        # told(model, x, classes) is model(x) without them, as the article's
        fakeClasses, seenClasses = run.classes(x[1])

        # generate a fake image batch using the generator
        fake = told(gen, noise, fakeClasses)

        # forward pass through discriminator
        # NOTE(deviation 10): one pass over the real and the (detached) fake
        # images together: D has no batch statistics, so its outputs, the
        # losses and their summed gradients are the article's, only faster
        # NOTE(deviation 19): --diffaug augments what D sees (off by default:
        # the images as they are)
        output = told(disc, recipe.augment(torch.cat((images, fake.detach()))),
            seenClasses).view(-1)
        # (D's mean verdict on the real and on the fake images: history.csv)
        meanDx, meanDGz = output[:bs].detach().mean(), output[bs:].detach().mean()

        # calculate the loss on all-real batch
        errorReal = criterion(output[:bs], labels)
        # ... and on the all-fake batch (NOTE(deviation 10): fake labels of
        # their own: the real ones are still needed by the backward pass)
        errorFake = criterion(output[bs:], torch.full_like(labels, fakeLabel))

        # compute the error for discriminator, calculate gradients by
        # performing a backward pass, and update it
        errorD = errorReal + errorFake
        # NOTE(deviation 19): plus --cr's consistency term (off by default)
        errorD = recipe.regularise(errorD, disc, images, fake.detach(), seenClasses)
        errorD.backward()
        discOpt.step()

        # set all generator gradients to zero
        gen.zero_grad()

        # update the labels as fake labels are real for the generator
        # and perform a forward pass  of fake data batch through the
        # discriminator
        labels.fill_(realLabel)
        # NOTE(deviation 11): D's weights are frozen for this pass: the article
        # computes their gradients only for disc.zero_grad() to throw them
        # away; skipping them saves a third of this backward pass
        disc.requires_grad_(False)
        output = told(disc, recipe.augment(fake), fakeClasses).view(-1)

        # calculate generator's loss based on output from
        # discriminator and calculate gradients for generator
        # NOTE(deviation 19): with --top-k, on the most realistic fakes only
        errorG = criterion(*recipe.top_k(output, labels))
        errorG.backward()
        disc.requires_grad_(True)

        # update the generator
        genOpt.step()

        # add the current iteration loss of discriminator and
        # generator
        # NOTE(deviation 3): not the loss tensors, which keep every batch's
        # autograd graph alive: the run keeps their values (history.csv)
        run.add_batch(errorG, errorD, meanDx, meanDGz)

    # display training information to disk
    # NOTE(deviation 4): the mean over the batches really done (the article
    # divides by one batch fewer), and over all processes under torchrun
    epochLossG, epochLossD = run.epoch_losses()
    print("[INFO] Generator Loss: {:.4f}, Discriminator Loss: {:.4f}".format(
        epochLossG, epochLossD))


def visualize(gen, benchmarkNoise, epoch, args, benchmarkClasses=None):
    """The article's montage of the generator's output on the benchmark
    noise (with --conditional, one class a row: benchmarkClasses); returns
    the path of the image written."""
    # set the generator in evaluation phase, make predictions on
    # the benchmark noise, scale it back to the range [0, 255],
    # and generate the montage
    gen.eval()
    # NOTE(deviation 5): without autograd: the article builds a graph for
    # these 256 images only to throw it away
    with torch.no_grad():
        images = told(gen, benchmarkNoise, benchmarkClasses)
    images = images.detach().cpu().numpy().transpose((0, 2, 3, 1))
    images = ((images * 127.5) + 127.5).astype("uint8")
    # NOTE(deviation 18): colour images (--channels 3, RGB) are reversed
    # to the BGR order cv2 writes; the montage's cells are --image-size
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    else:
        images = np.ascontiguousarray(images[..., ::-1])
    size = args["image_size"]
    vis = build_montages(images, (size, size), (16, 16))[0]

    # build the output path and write the visualization to disk
    p = os.path.join(args["output"], "epoch_{}.png".format(
        str(epoch + 1).zfill(4)))
    # NOTE(deviation 9): written whole or not at all, and a failure is an
    # error (cv2.imwrite only returns False)
    write_image(p, vis)

    # set the generator to training mode
    gen.train()
    return p


# NOTE(deviation 17): SIGTERM ends the process with status 143 as it stops
# a run, also before and after the run's own handling, and is ignored once
# main() has returned: never a process killed by the bare signal
if __name__ == "__main__":
    sys.exit(as_script(main))
