# USAGE
# python dcgan_mnist.py --output output

# import the necessary packages
from pyimagesearch.dcgan import Generator
from pyimagesearch.dcgan import Discriminator
from pyimagesearch import data as datasets
from pyimagesearch import device as devices
from pyimagesearch import metrics
from pyimagesearch import visualize
from pyimagesearch import checkpoint as ckpt
from torch.optim import Adam
from torch.nn import BCELoss
from torch import nn
from tqdm import tqdm
import argparse
import glob
import hashlib
import os
import platform
import sys
import time
import torch
# NOTE(deviation): the article also imports DataLoader, ToTensor, transforms,
# MNIST, sklearn's shuffle, numpy and cv2 here; the ones this file no longer
# uses directly are gone (sklearn's was never used), so scikit-learn is not a
# requirement of the article's code.

DEFAULT_SEED = 42
NOISE_DIM = 100
NUM_BENCHMARK = 256     # benchmark noise vectors: a 16x16 montage
SHOWCASE = "SHOWCASE.md"   # marks the sample run committed in output/


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


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_arg_parser():
    # construct the argument parse and parse the arguments
    ap = argparse.ArgumentParser(
        description="Train the article's DCGAN on MNIST-format digits.")
    ap.add_argument("-o", "--output", required=True,
        help="path to output directory (created if missing)")
    ap.add_argument("-e", "--epochs", type=positive_int, default=20,
        help="# epochs to train for (default: 20)")
    ap.add_argument("-b", "--batch-size", type=positive_int, default=128,
        help="batch size for training (default: 128)")
    ap.add_argument("--data-dir", default="data",
        help="folder with the IDX files (flat or torchvision's DIR/MNIST/raw), "
             "or where torchvision downloads them (default: data)")
    ap.add_argument("--dataset", choices=datasets.DATASETS, default="mnist",
        help="which MNIST-format dataset; 'fake' is torchvision FakeData for "
             "smoke runs without any files (default: mnist)")
    ap.add_argument("--no-download", action="store_true",
        help="never use the network: use --data-dir's files or, for MNIST, "
             "the embedded 5,000 digits (default: download when missing)")
    ap.add_argument("--limit", type=positive_int, default=None,
        help="train on at most this many images (the first ones), for quick "
             "runs; also the size of --dataset fake (default: all; fake: 1000)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
        help="random seed for weights, noise and shuffling; the same seed on "
             f"the CPU gives the same losses (default: {DEFAULT_SEED})")
    ap.add_argument("--device", choices=devices.DEVICES, default="auto",
        help="where to train; auto = CUDA, then Apple MPS, then CPU "
             "(default: auto)")
    ap.add_argument("--no-progress", action="store_true",
        help="hide the per-batch progress bar (default: shown)")
    ap.add_argument("--resume", action="store_true",
        help="continue the run in --output from its checkpoint.pt up to "
             "--epochs (default: start a new run)")
    ap.add_argument("--overwrite", action="store_true",
        help="delete a previous run's files in --output first (default: "
             "refuse to mix two runs in one folder)")
    ap.add_argument("--eval-every", type=int, default=0, metavar="K",
        help="score the generator every K epochs and after the last one with "
             "the project's digit evaluator (FLD, Inception Score, coverage) "
             "into metrics.json and history.csv; 0 = off, as the article "
             "(default: 0)")
    ap.add_argument("--eval-num", type=positive_int, default=10_000, metavar="N",
        help="samples per evaluation (default: 10000)")
    ap.add_argument("--stop-after", type=positive_int, default=None,
        metavar="EPOCHS",
        help="stop after this many epochs in this invocation, checkpoint "
             "saved; continue later with --resume (default: run to --epochs)")
    return ap


def check_output_dir(ap, path):
    """Refuse, argparse-style (exit 2, nothing written), an output folder
    that cannot be one."""
    if os.path.exists(path) and not os.path.isdir(path):
        ap.error(f"argument -o/--output: {path} is a file, not a folder")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        ap.error(f"argument -o/--output: {parent} is a file, so {path} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        ap.error(f"argument -o/--output: {parent} is not writable")


# arguments that shape the training itself: a resumed run must keep them
SHAPING_ARGS = ("batch_size", "dataset", "limit", "seed")
# arguments that belong to one invocation; --resume takes all others from
# the checkpoint unless they are given again
PER_INVOCATION_ARGS = ("output", "resume", "overwrite", "stop_after")


def explicit_args(argv):
    """The arguments the user actually typed (not argparse defaults)."""
    ap = build_arg_parser()
    for action in ap._actions:
        action.default = argparse.SUPPRESS
    return vars(ap.parse_args(argv))


def run_files(folder):
    """The files of a previous training run inside `folder`."""
    found = [name for name in ckpt.RUN_FILES
             if os.path.exists(os.path.join(folder, name))]
    for pattern in ckpt.RUN_PATTERNS:
        found += sorted(os.path.basename(p)
                        for p in glob.glob(os.path.join(folder, pattern)))
    return found


def remove_run_files(folder, names):
    for name in names:
        os.remove(os.path.join(folder, name))


def parse_args(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    if args.eval_every < 0:
        ap.error(f"argument --eval-every: must be 0 (off) or positive, got {args.eval_every}")
    check_output_dir(ap, args.output)
    if args.resume and args.overwrite:
        ap.error("argument --overwrite: not allowed with --resume")
    args.checkpoint = None
    previous = run_files(args.output) if os.path.isdir(args.output) else []

    if args.resume:
        path = os.path.join(args.output, ckpt.CHECKPOINT)
        try:
            checkpoint = ckpt.load_checkpoint(path)
        except ckpt.CheckpointError as e:
            sys.exit(f"[ERROR] cannot resume: {e}")
        # options not given again take the checkpoint's values; options that
        # shape the training may not change under a running model
        explicit, saved = explicit_args(argv), checkpoint["args"]
        for name in SHAPING_ARGS:
            if name in explicit and explicit[name] != saved.get(name):
                option = "--" + name.replace("_", "-")
                ap.error(f"argument {option}: {explicit[name]} differs from the "
                         f"checkpoint's {saved.get(name)}; a resumed run keeps {option} "
                         "(start a new run in another --output folder instead)")
        for name, value in saved.items():
            if name not in explicit and name not in PER_INVOCATION_ARGS:
                setattr(args, name, value)
        args.checkpoint = checkpoint
    elif os.path.exists(os.path.join(args.output, SHOWCASE)):
        # the repository ships a sample run in output/: a new run replaces it
        print(f"[INFO] {args.output} holds the repository's showcase run; replacing "
              f"it (git checkout -- {args.output} brings it back)")
        remove_run_files(args.output, previous + [SHOWCASE])
    elif previous and args.overwrite:
        print(f"[INFO] --overwrite: deleting the previous run's {len(previous)} "
              f"files in {args.output}")
        remove_run_files(args.output, previous)
    elif previous:
        shown = ", ".join(previous[:4]) + (", ..." if len(previous) > 4 else "")
        ap.error(f"argument -o/--output: {args.output} already holds another run's "
                 f"results ({shown}); pass --resume to continue that run, "
                 "--overwrite to replace it, or choose another folder")
    return args


def normalize(images):
    """uint8 (N, 1, 28, 28) -> float pixels in [-1, 1].

    Exactly the article's ToTensor() then Normalize((0.5), (0.5)): divide by
    255, subtract 0.5, divide by 0.5, in float32.
    """
    return images.float().div_(255).sub_(0.5).div_(0.5)


def batches(numImages, batchSize, generator):
    """Indices of one shuffled epoch, in batches; the last one may be short,
    as with the article's DataLoader(shuffle=True)."""
    order = torch.randperm(numImages, generator=generator)
    return order.split(batchSize)


def train_one_epoch(gen, disc, genOpt, discOpt, criterion, images, batchSize,
                    DEVICE, noiseGen, shuffleGen, bar):
    """One pass over the data, the article's updates in the article's order.

    Returns the per-batch values as a (numBatches, 4) tensor of
    [errorG, errorD, mean D(x), mean D(G(z))].
    """
    # define real and fake label values
    realLabel = 1
    fakeLabel = 0

    stats = []
    for index in batches(len(images), batchSize, shuffleGen):
        # zero out the discriminator gradients
        disc.zero_grad()

        # grab the images and send them to the device
        x = normalize(images[index]).to(DEVICE)   # (bs, 1, 28, 28) in [-1, 1]

        # get the batch size and create a labels tensor
        bs = x.size(0)
        labels = torch.full((bs,), realLabel, dtype=torch.float,
            device=DEVICE)

        # forward pass through discriminator
        output = disc(x).view(-1)
        meanDx = output.mean()

        # calculate the loss on all-real batch
        errorReal = criterion(output, labels)

        # calculate gradients by performing a backward pass
        errorReal.backward()

        # randomly generate noise for the generator to predict on
        noise = torch.randn(bs, NOISE_DIM, 1, 1, device=DEVICE,
            generator=noiseGen)

        # generate a fake image batch using the generator
        fake = gen(noise)
        labels.fill_(fakeLabel)

        # perform a forward pass through discriminator using fake
        # batch data
        output = disc(fake.detach()).view(-1)
        meanDGz = output.mean()
        errorFake = criterion(output, labels)

        # calculate gradients by performing a backward pass
        errorFake.backward()

        # compute the error for discriminator and update it
        errorD = errorReal + errorFake
        discOpt.step()

        # set all generator gradients to zero
        gen.zero_grad()

        # update the labels as fake labels are real for the generator
        # and perform a forward pass  of fake data batch through the
        # discriminator
        labels.fill_(realLabel)
        output = disc(fake).view(-1)

        # calculate generator's loss based on output from
        # discriminator and calculate gradients for generator
        errorG = criterion(output, labels)
        errorG.backward()

        # update the generator
        genOpt.step()

        # NOTE(deviation): the article adds the loss tensors themselves
        # (epochLossD += errorD), which keeps every batch's autograd graph
        # alive until the epoch ends; we keep detached values instead.
        stats.append(torch.stack([errorG.detach(), errorD.detach(),
                                  meanDx.detach(), meanDGz.detach()]))
        bar.update(bs)
        if len(stats) % 10 == 0:
            running = torch.stack(stats[-10:]).mean(0).tolist()
            bar.set_postfix(G=f"{running[0]:.3f}", D=f"{running[1]:.3f}")

    return torch.stack(stats).cpu()


def render_montage(gen, benchmarkNoise, path):
    """The article's visualisation: G in eval mode on the benchmark noise,
    a 16x16 montage written with cv2."""
    # set the generator in evaluation phase, make predictions on
    # the benchmark noise, scale it back to the range [0, 255],
    # and generate the montage
    gen.eval()
    # NOTE(deviation): under torch.no_grad(): the article builds an autograd
    # graph for these 256 images and throws it away.
    with torch.no_grad():
        images = gen(benchmarkNoise)           # (256, 1, 28, 28) in [-1, 1]
    vis = visualize.build_montage(images)      # (448, 448, 3) uint8

    # write the visualization to disk
    visualize.write_image(path, vis)

    # set the generator to training mode
    gen.train()


def versions():
    import cv2
    import numpy
    import torchvision
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,
            "opencv": cv2.__version__}


def main(argv=None):
    args = parse_args(argv)
    checkpoint = args.checkpoint

    # store the epochs and batch size in convenience variables
    NUM_EPOCHS = args.epochs
    BATCH_SIZE = args.batch_size
    startEpoch = checkpoint["epoch"] if checkpoint else 0
    if startEpoch >= NUM_EPOCHS:
        print(f"[INFO] {args.output} already finished {startEpoch} of {NUM_EPOCHS} "
              "epochs; nothing to do (pass a larger --epochs to train further)")
        return 0

    # set the device we will be using, and seed every random number
    try:
        DEVICE = devices.select_device(args.device)
    except ValueError as e:
        build_arg_parser().error(f"argument --device: {e}")
    torch.manual_seed(args.seed)
    print(f"[INFO] training on {devices.describe(DEVICE)}, seed {args.seed}")

    # load the MNIST dataset and stack the training and testing data
    # points so we have additional training data
    print("[INFO] loading MNIST dataset...")
    # NOTE(deviation): all images are read once into one uint8 tensor and
    # normalised per batch with the same arithmetic as the article's
    # ToTensor() + Normalize((0.5), (0.5)); files on disk and the offline
    # fallback are handled in pyimagesearch/data.py.
    try:
        data = datasets.load_dataset(args.dataset, args.data_dir,
            allowDownload=not args.no_download,
            fakeSize=args.limit or 1000, seed=args.seed)
    except datasets.DataError as e:
        sys.exit(f"[ERROR] {e}")
    images = data.images[:args.limit] if args.limit else data.images
    print(f"[INFO] {len(images):,} training images from {data.source}")
    fingerprint = hashlib.sha256(images.numpy().tobytes()).hexdigest()
    if checkpoint and checkpoint["run"]["data_sha256"] != fingerprint:
        sys.exit(f"[ERROR] cannot resume: the checkpoint was trained on other images "
                 f"({checkpoint['run']['num_train_images']:,} from "
                 f"{checkpoint['run']['data_source']}); this time they are "
                 f"{len(images):,} from {data.source}")

    # build the generator, initialize it's weights, and flash it to the
    # current device
    print("[INFO] building generator...")
    gen = Generator(inputDim=NOISE_DIM, outputChannels=1)
    gen.apply(weights_init)
    gen.to(DEVICE)

    # build the discriminator, initialize it's weights, and flash it to
    # the current device
    print("[INFO] building discriminator...")
    disc = Discriminator(depth=1)
    disc.apply(weights_init)
    disc.to(DEVICE)

    # initialize optimizer for both generator and discriminator
    genOpt = Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999),
        weight_decay=0.0002 / NUM_EPOCHS)
    discOpt = Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999),
        weight_decay=0.0002 / NUM_EPOCHS)

    # initialize BCELoss function
    criterion = BCELoss()

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning
    print("[INFO] starting training...")
    benchmarkNoise = torch.randn(NUM_BENCHMARK, NOISE_DIM, 1, 1, device=DEVICE)

    # random streams of their own for the training noise and the shuffling,
    # so their states can be saved and restored exactly
    noiseGen = torch.Generator(device=DEVICE).manual_seed(args.seed)
    shuffleGen = torch.Generator().manual_seed(args.seed)

    os.makedirs(args.output, exist_ok=True)
    paths = {name: os.path.join(args.output, name) for name in
             (ckpt.CHECKPOINT, ckpt.GENERATOR, ckpt.RUN_JSON, ckpt.HISTORY,
              ckpt.LOSSES_PLOT, ckpt.METRICS, "output.gif")}
    scorer = None      # the quality evaluator, built at the first --eval-every
    if checkpoint:
        # everything the next epoch depends on, exactly as it was saved
        gen.load_state_dict(checkpoint["generator"])
        disc.load_state_dict(checkpoint["discriminator"])
        genOpt.load_state_dict(checkpoint["genOpt"])
        discOpt.load_state_dict(checkpoint["discOpt"])
        benchmarkNoise = checkpoint["benchmarkNoise"].to(DEVICE)
        ckpt.restore_rng(checkpoint["rng"], noiseGen, shuffleGen)
        history, run = checkpoint["history"], checkpoint["run"]
        run["resumed_at_epochs"].append(startEpoch)
        if NUM_EPOCHS != checkpoint["args"]["epochs"]:
            print(f"[INFO] continuing to {NUM_EPOCHS} epochs (the run began with "
                  f"{checkpoint['args']['epochs']}); Adam's weight decay stays "
                  f"{genOpt.param_groups[0]['weight_decay']:g} as it began")
        print(f"[INFO] resuming {args.output} after epoch {startEpoch} of {NUM_EPOCHS}")
    else:
        history = torch.empty(0, len(ckpt.HISTORY_COLUMNS), dtype=torch.float64)
        run = {"arguments": {}, "seed": args.seed, "dataset": args.dataset,
               "data_source": data.source, "embedded_fallback": data.fallback,
               "num_train_images": len(images), "data_sha256": fingerprint,
               "device": devices.describe(DEVICE),
               "versions": versions(), "seconds_per_epoch": [], "losses": [],
               "montages": [], "resumed_at_epochs": [], "metrics": [],
               "status": "running"}
    run["arguments"] = {k: v for k, v in vars(args).items() if k != "checkpoint"}
    run["status"] = "running"
    ckpt.write_json(paths[ckpt.RUN_JSON], run)

    # loop over the epochs
    stopAt = NUM_EPOCHS if args.stop_after is None else min(
        NUM_EPOCHS, startEpoch + args.stop_after)
    epoch = startEpoch
    try:
        for epoch in range(startEpoch, stopAt):
            # show epoch information
            print("[INFO] starting epoch {} of {}...".format(epoch + 1,
                NUM_EPOCHS), flush=True)
            start = time.perf_counter()
            with tqdm(total=len(images), desc=f"epoch {epoch + 1}/{NUM_EPOCHS}",
                      unit="img", unit_scale=True, leave=False, file=sys.stderr,
                      disable=args.no_progress,
                      # a log file gets a line every 30 s, a terminal 2 a second
                      mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
                stats = train_one_epoch(gen, disc, genOpt, discOpt, criterion,
                    images, BATCH_SIZE, DEVICE, noiseGen, shuffleGen, bar)
            seconds = time.perf_counter() - start

            # NOTE(deviation): the article divides the loss sums by
            # len(dataset) // BATCH_SIZE while summing one more (short)
            # batch; we average over the batches really done.
            epochLossG, epochLossD = stats[:, 0].mean().item(), stats[:, 1].mean().item()

            # display training information to disk
            print("[INFO] Generator Loss: {:.4f}, Discriminator Loss: {:.4f}".format(
                epochLossG, epochLossD), flush=True)

            # check to see if we should visualize the output of the
            # generator model on our benchmark data
            # NOTE(deviation): also after an odd last epoch, so every run
            # ends with a picture of its final generator.
            if (epoch + 1) % 2 == 0 or epoch + 1 == NUM_EPOCHS:
                # build the output path and write the visualization to disk
                p = os.path.join(args.output, "epoch_{}.png".format(
                    str(epoch + 1).zfill(4)))
                render_montage(gen, benchmarkNoise, p)
                run["montages"].append(os.path.basename(p))

            # the per-batch record, its plot, then the checkpoint: the
            # checkpoint is written last, so whatever a kill interrupts is
            # redone identically by --resume
            firstStep = len(history)
            rows = torch.cat([torch.full((len(stats), 1), epoch + 1.0),
                              torch.arange(firstStep, firstStep + len(stats)).unsqueeze(1),
                              stats, torch.full((len(stats), len(ckpt.METRIC_COLUMNS)), float("nan"))],
                             dim=1).double()   # (batches, len(HISTORY_COLUMNS))

            # the optional quality check (--eval-every)
            if args.eval_every and ((epoch + 1) % args.eval_every == 0
                                    or epoch + 1 == NUM_EPOCHS):
                if scorer is None:
                    scorer = metrics.Scorer(data, seed=args.seed, device=DEVICE,
                                            num=args.eval_num)
                scores = scorer.score(gen)
                print("[INFO] epoch {}: FLD {:.3f} (real data: {:.3f}), Inception "
                      "Score {:.3f}, coverage {} of {}".format(epoch + 1,
                      scores["fld"], scores["real_fld"], scores["inception_score"],
                      scores["coverage"], scores["num_classes"]), flush=True)
                rows[-1, -len(ckpt.METRIC_COLUMNS):] = torch.tensor(
                    [float(scores[c]) for c in ckpt.METRIC_COLUMNS])
                run["metrics"].append({"epoch": epoch + 1, **scores})
                ckpt.write_json(paths[ckpt.METRICS], {"evaluator": {
                    "cache": scorer.cachePath, "split": scorer.split.description},
                    "epochs": run["metrics"]})
            history = torch.cat([history, rows])
            ckpt.write_history(paths[ckpt.HISTORY], history)
            visualize.plot_losses(ckpt.history_columns(history),
                                  paths[ckpt.LOSSES_PLOT])
            run["seconds_per_epoch"].append(round(seconds, 3))
            run["losses"].append({"epoch": epoch + 1, "generator": epochLossG,
                                  "discriminator": epochLossD})
            ckpt.save({"generator": gen.state_dict(),
                       "discriminator": disc.state_dict(),
                       "genOpt": genOpt.state_dict(), "discOpt": discOpt.state_dict(),
                       "epoch": epoch + 1, "benchmarkNoise": benchmarkNoise.cpu(),
                       "history": history, "args": run["arguments"], "run": run,
                       "rng": ckpt.capture_rng(noiseGen, shuffleGen)},
                      paths[ckpt.CHECKPOINT])
            ckpt.write_json(paths[ckpt.RUN_JSON], run)
    except KeyboardInterrupt:
        print(f"\n[INFO] interrupted during epoch {epoch + 1}; {paths[ckpt.CHECKPOINT]} "
              f"holds {epoch} epochs: continue with --resume", file=sys.stderr)
        return 130

    # the animation of all montages, and the generator's weights
    if run["montages"]:
        visualize.write_gif([os.path.join(args.output, m) for m in run["montages"]],
                            paths["output.gif"])
    ckpt.save(gen.state_dict(), paths[ckpt.GENERATOR])
    run["status"] = "finished" if stopAt == NUM_EPOCHS else "stopped"
    ckpt.write_json(paths[ckpt.RUN_JSON], run)
    if stopAt < NUM_EPOCHS:
        print(f"[INFO] stopped after epoch {stopAt} of {NUM_EPOCHS} as asked; "
              f"continue with: python dcgan_mnist.py --output {args.output} --resume")
    print(f"[INFO] montages, output.gif, generator.pth, history.csv, losses.png "
          f"and checkpoint.pt are in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
