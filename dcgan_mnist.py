# USAGE
# python dcgan_mnist.py --output output

# import the necessary packages
from pyimagesearch.dcgan import Generator
from pyimagesearch.dcgan import Discriminator
from pyimagesearch.ema import GeneratorEMA
from pyimagesearch import data as datasets
from pyimagesearch import device as devices
from pyimagesearch import distributed
from pyimagesearch import metrics
from pyimagesearch import visualize
from pyimagesearch import checkpoint as ckpt
from pyimagesearch.cli import positive_int
from torch.optim import Adam
from torch.nn import BCELoss
from torch.nn.parallel import DistributedDataParallel
from torch import nn
from tqdm import tqdm
import argparse
import contextlib
import functools
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
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
        help="also keep an exponential moving average of the generator's "
             "weights (decay per generator step, with warm-up; BatchNorm "
             "statistics re-estimated for it) and draw the montages and "
             "generator_ema.pth from it; 0.99 is recommended (README: what "
             "it gains); 0 = off, as the article (default: 0)")
    ap.add_argument("--amp", action="store_true",
        help="mixed precision: bf16 autocast for G and D, BCE in float32; "
             "for GPUs and CPUs with bf16 units (1.6x the default's speed on "
             "a Xeon with AMX), while the default keeps the article's float32 "
             "(default: off)")
    ap.add_argument("--compile", action="store_true",
        help="torch.compile G and D (a minute of compiling first; measured "
             "no faster on the CPU) (default: off)")
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
SHAPING_ARGS = ("batch_size", "dataset", "limit", "seed", "ema")
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
             if os.path.isfile(os.path.join(folder, name))]
    for pattern in ckpt.RUN_PATTERNS:
        found += sorted(os.path.basename(p) for p in
                        glob.glob(os.path.join(folder, pattern)) if os.path.isfile(p))
    return found


def remove_run_files(folder, names):
    for name in names:
        os.remove(os.path.join(folder, name))


def parse_args(argv=None, ctx=None):
    """The arguments, checked; --resume's checkpoint loaded into
    args.checkpoint. Only the first process (ctx.main) deletes files."""
    ctx = ctx or distributed.Context()
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    if args.eval_every < 0:
        ap.error(f"argument --eval-every: must be 0 (off) or positive, got {args.eval_every}")
    if not 0 <= args.ema < 1:
        ap.error(f"argument --ema: a decay in (0, 1), or 0 for off; got {args.ema}")
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
        if ctx.main:
            remove_run_files(args.output, previous + [SHOWCASE])
    elif previous and args.overwrite:
        print(f"[INFO] --overwrite: deleting the previous run's {len(previous)} "
              f"files in {args.output}")
        if ctx.main:
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


def train_step(gen, disc, genOpt, discOpt, criterion, x, noise,
               discCore=None, autocast=contextlib.nullcontext):
    """One batch of the article's updates: D's step on real and fake
    images, then G's step through the updated D.

    x: real images (bs, 1, 28, 28) in [-1, 1] and noise (bs, 100, 1, 1), both
    on the training device. discCore is the bare Discriminator when `disc` is
    wrapped (DistributedDataParallel); autocast a context for mixed
    precision (--amp). Returns [errorG, errorD, mean D(x), mean D(G(z))] as
    a tensor on the device: nothing here waits for the device.
    """
    discCore = disc if discCore is None else discCore

    # define real and fake label values
    realLabel = 1
    fakeLabel = 0

    # zero out the discriminator gradients
    # NOTE(deviation): set_to_none=True frees the gradients instead of
    # writing zeros into them; the update is the same.
    discOpt.zero_grad(set_to_none=True)

    # get the batch size and create a labels tensor: real for the first
    # half of D's batch, fake for the second
    bs = x.size(0)
    labels = torch.full((2 * bs,), realLabel, dtype=torch.float,
        device=x.device)
    labels[bs:] = fakeLabel

    # generate a fake image batch using the generator
    with autocast():
        fake = gen(noise)

    # NOTE(deviation): one forward pass of D over the real and the (detached)
    # fake images together, instead of one after the other. D has no batch
    # statistics, so each image's output is what it would be alone, and the
    # two losses and their summed gradients are the article's; the larger
    # batch computes faster (and under DDP its gradients are all-reduced once).
    with autocast():
        output = disc(torch.cat((x, fake.detach()))).view(-1)   # (2 * bs,)
    output = output.float()
    meanDx, meanDGz = output[:bs].detach().mean(), output[bs:].detach().mean()

    # calculate the loss on all-real batch and on the all-fake batch
    # (BCELoss in float32, outside autocast: Sigmoid + BCELoss is not
    # autocast-safe)
    errorReal = criterion(output[:bs], labels[:bs])
    errorFake = criterion(output[bs:], labels[bs:])

    # compute the error for discriminator, calculate gradients by
    # performing a backward pass, and update it
    errorD = errorReal + errorFake
    errorD.backward()
    discOpt.step()

    # set all generator gradients to zero
    genOpt.zero_grad(set_to_none=True)

    # update the labels as fake labels are real for the generator
    # and perform a forward pass  of fake data batch through the
    # discriminator
    labels = labels[:bs]                          # all realLabel
    # NOTE(deviation): D's weights are frozen for this pass. The article
    # computes their gradients here too, only for disc.zero_grad() to throw
    # them away at the next batch; skipping them saves a third of this
    # backward pass and gives the generator exactly the same gradients.
    # (Under DDP the bare module is called: nothing of D to all-reduce.)
    discCore.requires_grad_(False)
    with autocast():
        output = discCore(fake).view(-1)

    # calculate generator's loss based on output from
    # discriminator and calculate gradients for generator
    errorG = criterion(output.float(), labels)
    errorG.backward()
    discCore.requires_grad_(True)

    # update the generator
    genOpt.step()

    # NOTE(deviation): the article adds the loss tensors themselves
    # (epochLossD += errorD), which keeps every batch's autograd graph alive
    # until the epoch ends; we keep detached values instead.
    return torch.stack([errorG.detach(), errorD.detach(), meanDx, meanDGz])


def train_one_epoch(gen, disc, genOpt, discOpt, criterion, images, batchSize,
                    DEVICE, noiseGen, shuffleGen, bar, discCore=None,
                    autocast=contextlib.nullcontext, shard=(0, 1),
                    memoryFormat=torch.contiguous_format, ema=None, genCore=None):
    """One shuffled pass over `images` (uint8, on DEVICE) in batches.

    shard (rank, worldSize): under torch.distributed, this process's share
    of every epoch's permutation; memoryFormat: the layout the models were
    given (see memory_format); ema: a GeneratorEMA to update after every
    generator step from genCore (the bare generator). Returns the per-batch
    values as a
    (numBatches, 4) CPU tensor of [errorG, errorD, mean D(x), mean D(G(z))],
    read from the device once, at the end.
    """
    rank, worldSize = shard
    stats = []
    for index in batches(len(images), batchSize * worldSize, shuffleGen):
        if len(index) < worldSize:          # too few left to give every process one
            break
        # this process's part of the global batch
        index = index[rank::worldSize].to(images.device)

        # grab the images (already on the device) and normalise them
        x = normalize(images[index])                # (bs, 1, 28, 28) in [-1, 1]
        x = x.contiguous(memory_format=memoryFormat)

        # randomly generate noise for the generator to predict on
        noise = torch.randn(x.size(0), NOISE_DIM, 1, 1, device=DEVICE,
            generator=noiseGen)

        stats.append(train_step(gen, disc, genOpt, discOpt, criterion, x,
                                noise, discCore, autocast))
        if ema is not None:
            ema.update(genCore)
        bar.update(x.size(0) * worldSize)
        if len(stats) % 25 == 0:               # a device sync every 25 batches
            running = torch.stack(stats[-25:]).mean(0).tolist()
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


def memory_format(device):
    """The tensor layout to train in: channels_last (NHWC) on the CPU, where
    oneDNN's convolutions ran faster in it for these layers (see the
    README's performance section); PyTorch's default elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def fused_adam(device):
    """Adam's fused implementation where this PyTorch has it for the device."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return {}
    return {"fused": True}


def versions():
    import cv2
    import numpy
    import torchvision
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,
            "opencv": cv2.__version__}


def load_images(args, ctx, DEVICE, checkpoint):
    """The training images as one uint8 tensor on DEVICE, and the ImageSet
    they came from. Under torchrun the first process of each machine
    fetches the data first, the others then read what it left."""
    # NOTE(deviation): all images are read once into one uint8 tensor and
    # normalised per batch with the same arithmetic as the article's
    # ToTensor() + Normalize((0.5), (0.5)); files on disk and the offline
    # fallback are handled in pyimagesearch/data.py.
    quiet = dict(log=lambda line: None, warn=lambda lines: None)
    try:
        for turn in ("first", "others"):
            if (turn == "first") == ctx.local_main:
                data = datasets.load_dataset(args.dataset, args.data_dir,
                    allowDownload=not args.no_download and ctx.local_main,
                    fakeSize=args.limit or 1000, seed=args.seed,
                    **({} if ctx.main else quiet))
            distributed.barrier(ctx)
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
    # NOTE(deviation): the whole data set is held once, as uint8, on the
    # training device (55 MB for MNIST), instead of a DataLoader sending
    # every batch over
    return images.to(DEVICE), data, fingerprint     # (N, 1, 28, 28) uint8


def new_run_record(args, ctx, DEVICE, data, images, fingerprint):
    """run.json's content for a new run."""
    return {"arguments": {}, "seed": args.seed, "dataset": args.dataset,
            "data_source": data.source, "embedded_fallback": data.fallback,
            "num_train_images": len(images), "data_sha256": fingerprint,
            "device": devices.describe(DEVICE), "world_size": ctx.worldSize,
            "distributed_backend": ctx.backend or None,
            "versions": versions(), "seconds_per_epoch": [], "losses": [],
            "montages": [], "resumed_at_epochs": [], "metrics": [],
            "status": "running"}


def main(argv=None):
    ctx = distributed.from_environment()
    if not ctx.main:
        # only the first process logs: the others print nothing to stdout
        sys.stdout = open(os.devnull, "w")
    args = parse_args(argv, ctx)
    checkpoint = args.checkpoint

    # store the epochs and batch size in convenience variables
    NUM_EPOCHS = args.epochs
    BATCH_SIZE = args.batch_size          # per process under torchrun
    startEpoch = checkpoint["epoch"] if checkpoint else 0
    if startEpoch >= NUM_EPOCHS:
        print(f"[INFO] {args.output} already finished {startEpoch} of {NUM_EPOCHS} "
              "epochs; nothing to do (pass a larger --epochs to train further)")
        return 0
    if checkpoint and checkpoint["run"].get("world_size", 1) != ctx.worldSize:
        sys.exit(f"[ERROR] cannot resume: the checkpoint was trained by "
                 f"{checkpoint['run'].get('world_size', 1)} processes, this is "
                 f"{ctx.worldSize} (the effective batch size would change)")

    # set the device we will be using (this process's own GPU under
    # torchrun), and seed every random number
    try:
        DEVICE = distributed.setup(ctx, devices.select_device(args.device))
    except ValueError as e:
        build_arg_parser().error(f"argument --device: {e}")
    try:
        return train(args, ctx, DEVICE, checkpoint, NUM_EPOCHS, BATCH_SIZE, startEpoch)
    except OSError as e:
        # a file that could not be written (full disk, a folder where a
        # montage should go, ...): say which, without a traceback
        sys.exit(f"[ERROR] {e}")
    finally:
        distributed.cleanup(ctx)


def train(args, ctx, DEVICE, checkpoint, NUM_EPOCHS, BATCH_SIZE, startEpoch):
    torch.manual_seed(args.seed)
    if DEVICE.type == "cuda":
        # the layer shapes never change: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    print(f"[INFO] training on {devices.describe(DEVICE)}, seed {args.seed}"
          + (f", {ctx.worldSize} processes ({ctx.backend}), batch {BATCH_SIZE} each"
             if ctx.enabled else ""))

    # load the MNIST dataset and stack the training and testing data
    # points so we have additional training data
    print("[INFO] loading MNIST dataset...")
    images, data, fingerprint = load_images(args, ctx, DEVICE, checkpoint)

    # build the generator, initialize it's weights, and flash it to the
    # current device
    print("[INFO] building generator...")
    gen = Generator(inputDim=NOISE_DIM, outputChannels=1)
    gen.apply(weights_init)
    gen.to(DEVICE)
    # NOTE(deviation): the same weights in the memory layout the device
    # computes fastest in (see memory_format); values and math are unchanged
    gen.to(memory_format=memory_format(DEVICE))

    # build the discriminator, initialize it's weights, and flash it to
    # the current device
    print("[INFO] building discriminator...")
    disc = Discriminator(depth=1)
    disc.apply(weights_init)
    disc.to(DEVICE)
    disc.to(memory_format=memory_format(DEVICE))

    # initialize optimizer for both generator and discriminator
    # NOTE(deviation): fused=True (CPU and CUDA) does Adam's update in one
    # kernel instead of about ten small ops per tensor: the same algorithm
    # and hyper-parameters, measurably faster (benchmarks/bench_train.py).
    genOpt = Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999),
        weight_decay=0.0002 / NUM_EPOCHS, **fused_adam(DEVICE))
    discOpt = Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999),
        weight_decay=0.0002 / NUM_EPOCHS, **fused_adam(DEVICE))

    # initialize BCELoss function
    criterion = BCELoss()

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning (the same on every
    # process: all are seeded alike)
    print("[INFO] starting training...")
    benchmarkNoise = torch.randn(NUM_BENCHMARK, NOISE_DIM, 1, 1, device=DEVICE)

    # random streams of their own for the training noise (one per process)
    # and the shuffling (the same everywhere: each process takes its share
    # of one permutation), so their states can be saved and restored exactly
    noiseGen = torch.Generator(device=DEVICE).manual_seed(args.seed + ctx.rank)
    shuffleGen = torch.Generator().manual_seed(args.seed)

    # the optional average of the generator's weights (--ema)
    ema = GeneratorEMA(gen, args.ema) if args.ema else None

    if checkpoint:
        # everything the next epoch depends on, exactly as it was saved
        gen.load_state_dict(checkpoint["generator"])
        disc.load_state_dict(checkpoint["discriminator"])
        genOpt.load_state_dict(checkpoint["genOpt"])
        discOpt.load_state_dict(checkpoint["discOpt"])
        benchmarkNoise = checkpoint["benchmarkNoise"].to(DEVICE)
        if ema is not None:
            ema.load_state_dict(checkpoint["ema"])
        rng = checkpoint.get("rngPerProcess") or [checkpoint["rng"]]
        ckpt.restore_rng(rng[ctx.rank], noiseGen, shuffleGen)
        history, run = checkpoint["history"], checkpoint["run"]
        run["resumed_at_epochs"].append(startEpoch)
        if NUM_EPOCHS != checkpoint["args"]["epochs"]:
            print(f"[INFO] continuing to {NUM_EPOCHS} epochs (the run began with "
                  f"{checkpoint['args']['epochs']}); Adam's weight decay stays "
                  f"{genOpt.param_groups[0]['weight_decay']:g} as it began")
        print(f"[INFO] resuming {args.output} after epoch {startEpoch} of {NUM_EPOCHS}")
    else:
        history = torch.empty(0, len(ckpt.HISTORY_COLUMNS), dtype=torch.float64)
        run = new_run_record(args, ctx, DEVICE, data, images, fingerprint)
    run["arguments"] = {k: v for k, v in vars(args).items() if k != "checkpoint"}
    run["status"] = "running"

    # what trains: the same modules, optionally compiled, and under torchrun
    # wrapped in DistributedDataParallel (which all-reduces the gradients);
    # the bare modules are what is sampled from and saved
    trainGen, trainDisc = gen, disc
    if args.compile:
        trainGen, trainDisc = torch.compile(gen), torch.compile(disc)
    discCore = trainDisc
    if ctx.enabled:
        ids = [DEVICE.index] if DEVICE.type == "cuda" else None
        trainGen = DistributedDataParallel(trainGen, device_ids=ids)
        trainDisc = DistributedDataParallel(trainDisc, device_ids=ids)
    autocast = contextlib.nullcontext
    if args.amp:
        autocast = functools.partial(torch.autocast, device_type=DEVICE.type,
                                     dtype=torch.bfloat16)

    paths = {name: os.path.join(args.output, name) for name in
             (ckpt.CHECKPOINT, ckpt.GENERATOR, ckpt.GENERATOR_EMA, ckpt.RUN_JSON,
              ckpt.HISTORY, ckpt.LOSSES_PLOT, ckpt.METRICS, "output.gif")}
    if ctx.main:
        os.makedirs(args.output, exist_ok=True)
        ckpt.write_json(paths[ckpt.RUN_JSON], run)
    scorer = None      # the quality evaluator, built at the first --eval-every

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
                      disable=args.no_progress or not ctx.main,
                      # a log file gets a line every 30 s, a terminal 2 a second
                      mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
                stats = train_one_epoch(trainGen, trainDisc, genOpt, discOpt,
                    criterion, images, BATCH_SIZE, DEVICE, noiseGen, shuffleGen,
                    bar, discCore=discCore, autocast=autocast,
                    shard=(ctx.rank, ctx.worldSize),
                    memoryFormat=memory_format(DEVICE), ema=ema, genCore=gen)
            # the logged values are the mean over all processes
            stats = distributed.average(stats.to(DEVICE), ctx).cpu()
            seconds = time.perf_counter() - start

            # NOTE(deviation): the article divides the loss sums by
            # len(dataset) // BATCH_SIZE while summing one more (short)
            # batch; we average over the batches really done.
            epochLossG, epochLossD = stats[:, 0].mean().item(), stats[:, 1].mean().item()

            # display training information to disk
            print("[INFO] Generator Loss: {:.4f}, Discriminator Loss: {:.4f}".format(
                epochLossG, epochLossD), flush=True)

            # every process's random state, for an exact --resume
            rngPerProcess = distributed.gather(ckpt.capture_rng(noiseGen, shuffleGen), ctx)
            if ctx.main:
                history, scorer = record_epoch(args, epoch, NUM_EPOCHS, stats,
                    seconds, epochLossG, epochLossD, gen, disc, genOpt, discOpt,
                    ema, benchmarkNoise, history, run, rngPerProcess, data,
                    DEVICE, scorer, paths)
    except KeyboardInterrupt:
        saved = (f"{paths[ckpt.CHECKPOINT]} holds {epoch} epochs: continue with --resume"
                 if epoch > 0 else "no epoch was finished, so nothing was saved")
        print(f"\n[INFO] interrupted during epoch {epoch + 1}; {saved}", file=sys.stderr)
        return 130

    if ctx.enabled:
        # the replicas must agree: DDP keeps them in step, this checks it
        digests = distributed.gather(distributed.parameters_digest(gen), ctx)
        run["replicas_identical"] = len(set(digests)) == 1
        if not run["replicas_identical"]:
            sys.exit("[ERROR] the generator's weights differ between processes")
    if not ctx.main:
        return 0

    # the animation of all montages, and the generator's weights
    if run["montages"]:
        visualize.write_gif([os.path.join(args.output, m) for m in run["montages"]],
                            paths["output.gif"])
    ckpt.save(gen.state_dict(), paths[ckpt.GENERATOR])
    if ema is not None:
        ckpt.save(ema.recalibrate().state_dict(), paths[ckpt.GENERATOR_EMA])
    run["status"] = "finished" if stopAt == NUM_EPOCHS else "stopped"
    ckpt.write_json(paths[ckpt.RUN_JSON], run)
    if stopAt < NUM_EPOCHS:
        print(f"[INFO] stopped after epoch {stopAt} of {NUM_EPOCHS} as asked; "
              f"continue with: python dcgan_mnist.py --output {args.output} --resume")
    print("[INFO] montages, output.gif, generator.pth"
          + (", generator_ema.pth" if ema is not None else "")
          + f", history.csv, losses.png and checkpoint.pt are in {args.output}")
    return 0


def record_epoch(args, epoch, NUM_EPOCHS, stats, seconds, epochLossG, epochLossD,
                 gen, disc, genOpt, discOpt, ema, benchmarkNoise, history, run,
                 rngPerProcess, data, DEVICE, scorer, paths):
    """Everything written after an epoch (by the first process only): the
    montage, the optional quality check, history.csv, losses.png, then the
    checkpoint, then run.json. The checkpoint is written last, so whatever a
    kill interrupts is redone identically by --resume. Returns the grown
    history and the evaluator (built at its first use)."""
    # check to see if we should visualize the output of the
    # generator model on our benchmark data
    # NOTE(deviation): also after an odd last epoch, so every run
    # ends with a picture of its final generator.
    if (epoch + 1) % 2 == 0 or epoch + 1 == NUM_EPOCHS:
        # build the output path and write the visualization to disk
        p = os.path.join(args.output, "epoch_{}.png".format(
            str(epoch + 1).zfill(4)))
        # (with --ema, the averaged generator is the one to look at)
        render_montage(gen if ema is None else ema.recalibrate(), benchmarkNoise, p)
        run["montages"].append(os.path.basename(p))

    # one history row per batch: epoch, global step, the batch's values,
    # and the quality metrics (NaN unless evaluated, on the last row)
    firstStep = len(history)
    rows = torch.cat([torch.full((len(stats), 1), epoch + 1.0),
                      torch.arange(firstStep, firstStep + len(stats)).unsqueeze(1),
                      stats, torch.full((len(stats), len(ckpt.METRIC_COLUMNS)), float("nan"))],
                     dim=1).double()   # (batches, len(HISTORY_COLUMNS))

    # the optional quality check (--eval-every)
    if args.eval_every and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == NUM_EPOCHS):
        if scorer is None:
            scorer = metrics.Scorer(data, seed=args.seed, device=DEVICE, num=args.eval_num)
        scores = {"epoch": epoch + 1, **scorer.score(gen)}
        line = "[INFO] epoch {}: FLD {:.3f} (real data: {:.3f}), Inception Score {:.3f}, " \
               "coverage {} of {}".format(epoch + 1, scores["fld"], scores["real_fld"],
               scores["inception_score"], scores["coverage"], scores["num_classes"])
        if ema is not None:
            scores["ema"] = scorer.score(ema.recalibrate())
            line += "; EMA: FLD {:.3f}, Inception Score {:.3f}, coverage {}".format(
                scores["ema"]["fld"], scores["ema"]["inception_score"], scores["ema"]["coverage"])
        print(line, flush=True)
        rows[-1, -len(ckpt.METRIC_COLUMNS):] = torch.tensor(
            [float(scores[c]) if c in scores else
             float(scores.get("ema", {}).get(c.removesuffix("_ema"), "nan"))
             for c in ckpt.METRIC_COLUMNS])
        run["metrics"].append(scores)
        ckpt.write_json(paths[ckpt.METRICS], {"evaluator": {
            "cache": scorer.cachePath, "split": scorer.split.description},
            "epochs": run["metrics"]})
    history = torch.cat([history, rows])
    ckpt.write_history(paths[ckpt.HISTORY], history)
    visualize.plot_losses(ckpt.history_columns(history), paths[ckpt.LOSSES_PLOT])

    run["seconds_per_epoch"].append(round(seconds, 3))
    run["losses"].append({"epoch": epoch + 1, "generator": epochLossG,
                          "discriminator": epochLossD})
    ckpt.save({"generator": gen.state_dict(), "discriminator": disc.state_dict(),
               "ema": None if ema is None else ema.state_dict(),
               "genOpt": genOpt.state_dict(), "discOpt": discOpt.state_dict(),
               "epoch": epoch + 1, "benchmarkNoise": benchmarkNoise.cpu(),
               "history": history, "args": run["arguments"], "run": run,
               "rng": rngPerProcess[0], "rngPerProcess": rngPerProcess},
              paths[ckpt.CHECKPOINT])
    ckpt.write_json(paths[ckpt.RUN_JSON], run)
    return history, scorer


if __name__ == "__main__":
    sys.exit(main())
