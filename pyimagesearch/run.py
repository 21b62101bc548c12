"""One training run of dcgan_mnist.py, from the first check to the last file.

The script keeps the article's statements; what the project adds around them
lives here, behind a handful of calls:

    with TrainingRun(ap, args, argv) as run:   # options checked, --resume's checkpoint read
        DEVICE = run.device                    # chosen and seeded
        data = run.load_data()                 # the images (checked against the checkpoint)
        dataloader = run.dataloader(data, transform, batch_size=...)
        ...                                    # the article builds G, D, Adam, BCELoss, noise
        gen, disc, benchmarkNoise = run.start(gen, disc, genOpt, discOpt, benchmarkNoise)
        for epoch in run.epochs():
            ...                                # the article's batch loop,
            run.add_batch(errorG, errorD, meanDx, meanDGz)      # once a batch
            epochLossG, epochLossD = run.epoch_losses()
            ...                                # the article's montage
            run.end_epoch(montagePath)
        run.finish()

Nothing in --output is deleted or written before `start`: a run that fails
earlier (a bad option, a missing GPU, broken data, an unusable checkpoint)
leaves the folder as it found it. From `start` on the folder is locked for
this process. After every epoch come history.csv, losses.png, the optional
quality metrics, then checkpoint.pt, then run.json, each written whole or
not at all, so a kill at any moment loses at most the epoch in progress.
The context manager turns the ways a run can end into one line each: a
problem the user can fix (exit 1), Ctrl-C (exit 130, saying what was saved).
"""

import glob
import hashlib
import json
import math
import os
import platform
import sys
import time

import torch

from . import distributed, files, metrics, options, visualize
from .checkpoint import Checkpoint, CheckpointError, capture_rng, load_checkpoint, restore_rng
from .data import DataError, DeviceLoader, load_dataset, warn
from .device import Autocast, describe, fused_adam, memory_format, select_device
from .ema import GeneratorEMA
from .errors import UserError
from .history import History
from .progress import EpochProgress

CHECKPOINT = "checkpoint.pt"
GENERATOR = "generator.pth"
GENERATOR_EMA = "generator_ema.pth"
GENERATOR_BEST = "generator_best.pth"
RUN_JSON = "run.json"
HISTORY = "history.csv"
LOSSES_PLOT = "losses.png"
METRICS = "metrics.json"
GIF = "output.gif"
# every file a training run writes into its output folder, and its montages
RUN_FILES = (CHECKPOINT, GENERATOR, GENERATOR_EMA, GENERATOR_BEST, RUN_JSON, HISTORY,
             LOSSES_PLOT, METRICS, GIF)
# for the embedded default's advice: the article's run (all of MNIST, 20
# epochs of batches of 128), and the speed of the script on 2 CPU cores
# (docs/speed.md: 720-810 images/s on the machines here)
ARTICLE_IMAGES, ARTICLE_EPOCHS, ARTICLE_BATCH = 70_000, 20, 128
CPU_IMAGES_PER_SECOND = 750
# the signs of a failing run that earn a [WARNING] (docs/quality.md)
D_WON = 0.02            # epoch mean of D(G(z)) below this: the discriminator has won
COLLAPSE_DROP = 0.3     # classes_covered falling by this share of the classes (at least 2)
MONTAGES = "epoch_*.png"
SHOWCASE = "SHOWCASE.md"        # marks the sample run committed in output/


def run_files(folder):
    """The files of a previous training run inside `folder`."""
    found = [name for name in RUN_FILES if os.path.isfile(os.path.join(folder, name))]
    return found + sorted(os.path.basename(p) for p in
                          glob.glob(os.path.join(glob.escape(folder), MONTAGES))
                          if os.path.isfile(p))


def versions():
    import cv2
    import numpy
    import torchvision
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,
            "opencv": cv2.__version__}


def embedded_default_advice(numImages, batchSize, epochs):
    """What to expect from the embedded default, and what to do about it:
    the updates this run makes against the article's, and the --epochs
    that makes as many (with its time on 2 CPU cores, docs/embedded.md)."""
    steps = math.ceil(numImages / batchSize)
    updates = steps * epochs
    articleUpdates = math.ceil(ARTICLE_IMAGES / ARTICLE_BATCH) * ARTICLE_EPOCHS
    matching = math.ceil(articleUpdates / steps)
    minutes = matching * numImages / CPU_IMAGES_PER_SECOND / 60
    return [f"What to expect: {epochs} epochs of {numImages:,} digits make {updates:,} updates of the",
            f"networks; the article's {ARTICLE_EPOCHS} epochs of {ARTICLE_IMAGES:,} make "
            f"{articleUpdates:,}. Expect",
            "blurred, partly unreadable digits from this run (docs/embedded.md shows both).",
            f"As many updates as the article: --epochs {matching} (about {minutes:.0f} minutes on 2 CPU",
            "cores, a few minutes on a GPU), or give it the full MNIST with --data-dir."]


def discriminator_won(meanDGz, bestEpoch=None):
    """What to say when D's mean verdict on generated images stayed below
    D_WON for a whole epoch: the generator's gradient vanishes then (a
    healthy run of the article's recipe stays above 0.1). None if fine."""
    if meanDGz >= D_WON:
        return None
    return (f"the discriminator has won: its mean verdict on generated images was "
            f"{meanDGz:.4f} (a healthy run stays above 0.1), so the generator learns little. "
            "Look at the montages"
            + (f"; {GENERATOR_BEST} keeps epoch {bestEpoch}'s generator" if bestEpoch else "")
            + "; a lower learning rate or another --seed may train better")


def mode_collapse(earlier, scores, bestEpoch):
    """What to say when classes_covered fell by COLLAPSE_DROP of the
    classes (at least 2) since the evaluation before. None if fine."""
    if earlier is None:
        return None
    drop = earlier["classes_covered"] - scores["classes_covered"]
    if drop < max(2, math.ceil(COLLAPSE_DROP * scores["num_classes"])):
        return None
    return (f"possible mode collapse: the samples cover {scores['classes_covered']} of "
            f"{scores['num_classes']} classes, {earlier['classes_covered']} at epoch "
            f"{earlier['epoch']}. Look at the montages; {GENERATOR_BEST} keeps the best "
            f"generator so far (epoch {bestEpoch}); a lower learning rate often helps")


class TrainingRun:
    """See the module's docstring. `ap` is the script's parser (for usage
    errors), `args` its parsed arguments as a dict, `argv` the command line
    they came from (None: sys.argv), to tell typed options from defaults."""

    def __init__(self, ap, args, argv=None):
        self.ctx = distributed.from_environment()
        self.main = self.ctx.main
        self.stdout = sys.stdout
        if not self.main:
            sys.stdout = open(os.devnull, "w")     # one log: the first process's
        elif hasattr(sys.stdout, "reconfigure"):
            # a log file gets each line at once, in order with stderr's
            sys.stdout.reconfigure(line_buffering=True)
        self.output, self.lock, self.claimed = args["output"], None, False
        self.epoch = self.epochsSaved = 0
        try:
            self._check(ap, args, argv)
        except BaseException as e:
            self._close()
            self._end(e)
            raise

    def _check(self, ap, args, argv):
        """Everything that can be checked before the data: options, the
        output folder, the checkpoint, the device. Writes nothing."""
        options.check(ap, args)
        self.checkpoint = None
        self.dataDir = args["data_dir"]
        if args["resume"]:
            path = os.path.join(self.output, CHECKPOINT)
            if not os.path.exists(path) and os.path.exists(os.path.join(self.output, RUN_JSON)):
                raise CheckpointError(f"cannot resume: {self.output} holds no {CHECKPOINT}, so its "
                                      "run stopped before finishing its first epoch; the same "
                                      "command without --resume starts it again")
            try:
                self.checkpoint = load_checkpoint(path)
            except CheckpointError as e:
                raise CheckpointError(f"cannot resume: {e}") from None
            self._take_arguments_from_checkpoint(ap, args, options.explicit(ap, argv))
        self.args = args
        if self.main and os.path.isdir(self.output):
            self.lock = files.FolderLock(self.output).acquire()
        self.replace = [] if args["resume"] else self._previous_run(ap)

        self.numEpochs = args["epochs"]
        self.startEpoch = self.epochsSaved = self.checkpoint.epoch if self.checkpoint else 0
        if self.startEpoch >= self.numEpochs:
            print(f"[INFO] {self.output} already finished {self.startEpoch} of {self.numEpochs} "
                  "epochs; nothing to do (pass a larger --epochs to train further)")
            raise SystemExit(0)
        self.stopEpoch = self.numEpochs if args["stop_after"] is None else min(
            self.numEpochs, self.startEpoch + args["stop_after"])
        if self.checkpoint and self.checkpoint.run.get("world_size", 1) != self.ctx.worldSize:
            raise CheckpointError(
                f"cannot resume: the checkpoint was trained by "
                f"{self.checkpoint.run.get('world_size', 1)} processes, this is "
                f"{self.ctx.worldSize} (the effective batch size would change)")

        # the device (this process's own GPU under torchrun), and every seed
        try:
            self.device = distributed.setup(self.ctx, select_device(args["device"]))
        except ValueError as e:
            ap.error(f"argument --device: {e}")
        torch.manual_seed(args["seed"])
        if self.device.type == "cuda":
            # the layer shapes never change: let cuDNN pick its fastest kernels
            torch.backends.cudnn.benchmark = True
        # random streams of their own for the training noise (one per process)
        # and the shuffling (the same everywhere: each process takes its share
        # of one permutation), so their states can be saved and restored exactly
        self.noiseGen = torch.Generator(device=self.device).manual_seed(
            (args["seed"] + self.ctx.rank) % (options.MAX_SEED + 1))
        self.shuffleGen = torch.Generator().manual_seed(args["seed"])
        self.fusedAdam = fused_adam(self.device)
        print(f"[INFO] training on {describe(self.device)}, seed {args['seed']}"
              + (f", {self.ctx.worldSize} processes ({self.ctx.backend}), batch "
                 f"{args['batch_size']} each" if self.ctx.enabled else ""))

    def _take_arguments_from_checkpoint(self, ap, args, typed):
        """--resume: options not given again take the checkpoint's values;
        options that shape the training may not change under a running model."""
        saved = self.checkpoint.args
        for name in options.SHAPING:
            if name in typed and typed[name] != saved.get(name):
                option = "--" + name.replace("_", "-")
                ap.error(f"argument {option}: {typed[name]} differs from the "
                         f"checkpoint's {saved.get(name)}; a resumed run keeps {option} "
                         "(start a new run in another --output folder instead)")
        for name, value in saved.items():
            if name in args and name not in typed and name not in options.PER_INVOCATION:
                args[name] = value
        if "data_dir" not in typed and self.checkpoint.dataDir:
            # found from any working folder, though run.json keeps it as typed
            self.dataDir = self.checkpoint.dataDir

    def _previous_run(self, ap):
        """The files of an earlier run that `start` will replace: the
        repository's showcase, a run that never finished an epoch, or any
        run with --overwrite; any other earlier run is refused."""
        if not os.path.isdir(self.output):
            return []
        previous = run_files(self.output)
        if os.path.exists(os.path.join(self.output, SHOWCASE)):
            self.replacing = (f"{self.output} holds the repository's showcase run; replacing "
                              f"it (git checkout -- {self.output} brings it back)")
            return previous + [SHOWCASE]
        if previous and self.args["overwrite"]:
            self.replacing = (f"--overwrite: deleting the previous run's {len(previous)} "
                              f"files in {self.output}")
            return previous
        if previous and self._stopped_before_first_epoch(previous):
            self.replacing = (f"{self.output} holds what is left of a run that stopped before "
                              f"its first epoch ended; starting over")
            return previous
        if previous:
            shown = ", ".join(previous[:4]) + (", ..." if len(previous) > 4 else "")
            ap.error(f"argument -o/--output: {self.output} already holds another run's "
                     f"results ({shown}); pass --resume to continue that run, "
                     "--overwrite to replace it, or choose another folder")
        return []

    def _stopped_before_first_epoch(self, previous):
        """True when the earlier run's own record shows that it never
        finished an epoch (killed, interrupted or failed in epoch 1): then
        nothing of it is worth keeping."""
        if CHECKPOINT in previous or GENERATOR in previous or RUN_JSON not in previous:
            return False
        try:
            with open(os.path.join(self.output, RUN_JSON)) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return False
        return (isinstance(record, dict) and record.get("losses") == []
                and record.get("status") in ("running", "interrupted", "failed"))

    # ------------------------------------------------------------------ data

    def load_data(self):
        """The training images, an ImageSet (--limit applied). Under
        torchrun the first process of each machine fetches them first, the
        others then read what it left. With --resume they must be the
        images the checkpoint was trained on."""
        args, ctx = self.args, self.ctx
        quiet = dict(log=lambda line: None, warn=lambda lines: None)
        for turn in ("first", "others"):
            if (turn == "first") == ctx.local_main:
                self.fullData = load_dataset(
                    args["dataset"], self.dataDir,
                    allowDownload=not args["no_download"] and ctx.local_main,
                    fakeSize=args["limit"] or 1000, seed=args["seed"], invert=args["invert"],
                    **({} if self.main else quiet))
            distributed.barrier(ctx)
        data = self.fullData.head(args["limit"])
        print(f"[INFO] {len(data):,} training images from {data.source}")
        self.fingerprint = hashlib.sha256(data.images.numpy().tobytes()).hexdigest()
        if self.checkpoint and self.checkpoint.run["data_sha256"] != self.fingerprint:
            saved = self.checkpoint.run
            raise DataError(f"cannot resume: the checkpoint was trained on other images "
                            f"({saved['num_train_images']:,} from {saved['data_source']}); "
                            f"this time they are {len(data):,} from {data.source}")
        self.data = data
        if data.fallback and self.main and not self.checkpoint:
            warn(embedded_default_advice(len(data), args["batch_size"] * self.ctx.worldSize,
                                         args["epochs"]))
        self.evaluating = bool(args["eval_every"])
        if self.evaluating and not metrics.can_score(self.fullData):
            self.evaluating = False
            print(f"[INFO] --eval-every skipped: {metrics.why_not_scorable(self.fullData)}")
        return data

    def dataloader(self, data, transform, batch_size):
        """Shuffled batches on the training device (data.DeviceLoader), from
        this run's shuffling stream; under torchrun this process's share."""
        self.loader = DeviceLoader(data, batch_size, self.device, transform,
                                   generator=self.shuffleGen,
                                   shard=(self.ctx.rank, self.ctx.worldSize),
                                   memoryFormat=memory_format(self.device))
        return self.loader

    # ----------------------------------------------------------------- start

    def start(self, gen, disc, genOpt, discOpt, benchmarkNoise):
        """Restore everything the next epoch depends on (--resume), claim
        the output folder, and return the modules to train with (`gen` and
        `disc` themselves, or wrappers of them for --amp and --compile) and
        the benchmark noise (the checkpoint's, on --resume)."""
        self.gen, self.disc, self.genOpt, self.discOpt = gen, disc, genOpt, discOpt
        # the same weights in the memory layout the device computes fastest in
        layout = memory_format(self.device)
        gen.to(memory_format=layout)
        disc.to(memory_format=layout)
        self.ema = GeneratorEMA(gen, self.args["ema"]) if self.args["ema"] else None
        if self.checkpoint:
            benchmarkNoise = self._restore(self.checkpoint).to(self.device)
        else:
            self.history, self.record = History(), self._new_record()
        self.record["arguments"] = dict(self.args)
        self.record["status"] = "running"
        self.benchmarkNoise = benchmarkNoise
        self.scorer = None           # the quality evaluator, built at the first --eval-every

        # under torchrun, every step uses the gradients averaged over all
        # processes; with --ema, the average follows every generator step
        for opt in (genOpt, discOpt):
            params = [p for group in opt.param_groups for p in group["params"]]
            opt.register_step_pre_hook(
                lambda *_, params=params: distributed.average_gradients(params, self.ctx))
        if self.ema is not None:
            genOpt.register_step_post_hook(lambda *_: self.ema.update(gen))

        self._claim()
        trainGen, trainDisc = gen, disc
        if self.args["amp"]:
            trainGen, trainDisc = Autocast(gen, self.device.type), Autocast(disc, self.device.type)
        if self.args["compile"]:
            trainGen, trainDisc = torch.compile(trainGen), torch.compile(trainDisc)
        return trainGen, trainDisc, benchmarkNoise

    def _restore(self, checkpoint):
        try:
            self.gen.load_state_dict(checkpoint.generator)
            self.disc.load_state_dict(checkpoint.discriminator)
            self.genOpt.load_state_dict(checkpoint.genOpt)
            self.discOpt.load_state_dict(checkpoint.discOpt)
            if self.ema is not None:
                self.ema.load_state_dict(checkpoint.ema)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            first = " ".join(str(e).split())[:200]
            raise CheckpointError(f"cannot resume: {os.path.join(self.output, CHECKPOINT)} "
                                  f"does not fit the article's models ({first})") from None
        restore_rng(checkpoint.rng[self.ctx.rank], self.noiseGen, self.shuffleGen)
        self.history, self.record = History(checkpoint.history), checkpoint.run
        self.record["resumed_at_epochs"].append(self.startEpoch)
        if self.numEpochs != checkpoint.args["epochs"]:
            print(f"[INFO] continuing to {self.numEpochs} epochs (the run began with "
                  f"{checkpoint.args['epochs']}); Adam's weight decay stays "
                  f"{self.genOpt.param_groups[0]['weight_decay']:g} as it began")
        print(f"[INFO] resuming {self.output} after epoch {self.startEpoch} of {self.numEpochs}")
        return checkpoint.benchmarkNoise

    def _new_record(self):
        """run.json's content for a new run."""
        data, ctx = self.data, self.ctx
        return {"arguments": {}, "seed": self.args["seed"], "dataset": self.args["dataset"],
                "data_source": data.source, "embedded_fallback": data.fallback,
                "num_train_images": len(data), "data_sha256": self.fingerprint,
                "device": describe(self.device), "world_size": ctx.worldSize,
                "distributed_backend": ctx.backend or None, "versions": versions(),
                "seconds_per_epoch": [], "losses": [], "montages": [],
                "resumed_at_epochs": [], "metrics": [], "status": "running"}

    def _claim(self):
        """Make the output folder this run's: lock it, replace what an
        earlier run left there, write run.json. The first process only."""
        if not self.main:
            return
        try:
            os.makedirs(self.output, exist_ok=True)
        except OSError as e:
            raise files.WriteError(f"cannot create {self.output}: {e.strerror or e}") from None
        if self.lock is None:
            self.lock = files.FolderLock(self.output).acquire()
        if not self.args["resume"]:
            appeared = sorted(set(run_files(self.output)) - set(self.replace))
            if appeared:          # another run finished there while this one loaded
                raise files.FolderBusy(
                    f"{self.output} received another run's files ({', '.join(appeared[:4])}) "
                    "while this run was getting ready; nothing was changed: choose another "
                    "--output, or --overwrite")
        if self.replace:
            print(f"[INFO] {self.replacing}")
            for name in self.replace:
                path = os.path.join(self.output, name)
                if os.path.isfile(path):
                    os.remove(path)
        files.remove_leftovers(self.output)
        files.write_json(os.path.join(self.output, RUN_JSON), self.record)
        self.claimed = True

    # ---------------------------------------------------------------- epochs

    def epochs(self):
        """The epochs to train in this invocation (0-based): from where a
        resumed run stopped, up to --epochs or --stop-after's limit."""
        for epoch in range(self.startEpoch, self.stopEpoch):
            self.epoch, self.stats = epoch, []
            self.progress = EpochProgress(epoch, self.numEpochs, len(self.loader.images),
                                          enabled=self.main and not self.args["no_progress"])
            self.started = time.perf_counter()
            yield epoch

    def add_batch(self, errorG, errorD, meanDx, meanDGz):
        """One batch's losses and D's mean outputs on real and fake images,
        kept on the device (read once, at the end of the epoch) without
        their autograd graphs."""
        self.stats.append(torch.stack([errorG.detach(), errorD.detach(),
                                       meanDx.detach(), meanDGz.detach()]))
        self.progress.update(self.loader.lastBatchImages, self.stats)

    def epoch_losses(self):
        """The epoch's mean G and D losses over its batches (and over all
        processes under torchrun)."""
        self.progress.close()
        stats = torch.stack(self.stats).cpu()                 # (batches, 4)
        self.stats = distributed.average(stats.to(self.device), self.ctx).cpu()
        self.seconds = time.perf_counter() - self.started
        return self.stats[:, 0].mean().item(), self.stats[:, 1].mean().item()

    def generator_to_draw(self):
        """The generator the montages show: the averaged one with --ema."""
        return self.gen if self.ema is None else self.ema.recalibrate()

    def end_epoch(self, montage=None):
        """Record the epoch that epoch_losses closed, whose montage (if
        one was drawn) is at `montage`: the quality check, history.csv,
        losses.png, then checkpoint.pt, then run.json. Every process takes
        part (their random states are gathered); the first one writes."""
        rng = distributed.gather(capture_rng(self.noiseGen, self.shuffleGen), self.ctx)
        if not self.main:
            return
        epoch, record = self.epoch, self.record
        if montage:
            record["montages"].append(os.path.basename(montage))
        self.history.add_epoch(epoch, self.stats)
        self._warn_if_discriminator_won()
        if self.evaluating and ((epoch + 1) % self.args["eval_every"] == 0
                                or epoch + 1 == self.numEpochs):
            self._evaluate(epoch)
        self.history.write_csv(self._path(HISTORY))
        visualize.plot_losses(self.history.columns(), self._path(LOSSES_PLOT))
        record["seconds_per_epoch"].append(round(self.seconds, 3))
        record["losses"].append({"epoch": epoch + 1, "generator": self.stats[:, 0].mean().item(),
                                 "discriminator": self.stats[:, 1].mean().item()})
        Checkpoint(epoch=epoch + 1, generator=self.gen.state_dict(),
                   discriminator=self.disc.state_dict(), genOpt=self.genOpt.state_dict(),
                   discOpt=self.discOpt.state_dict(), benchmarkNoise=self.benchmarkNoise.cpu(),
                   history=self.history.rows, rng=rng, args=record["arguments"], run=record,
                   ema=None if self.ema is None else self.ema.state_dict(),
                   dataDir=os.path.abspath(self.dataDir)).save(self._path(CHECKPOINT))
        self.epochsSaved = epoch + 1
        files.write_json(self._path(RUN_JSON), record)

    def _evaluate(self, epoch):
        """--eval-every: score the generator (and its EMA) on the fixed
        noise; keep the generator the montages show as generator_best.pth
        whenever its FLD is the lowest so far."""
        if self.scorer is None:
            self.scorer = metrics.Scorer(self.fullData, seed=self.args["seed"], device=self.device,
                                         num=self.args["eval_num"], trainedOn=self.data.images)
        scores = {"epoch": epoch + 1, **self.scorer.score(self.gen)}
        line = "[INFO] epoch {}: FLD {:.3f} (real data: {:.3f}), IS {:.3f}, precision {:.3f}, " \
               "recall {:.3f}, {} of {} classes".format(
                   epoch + 1, scores["fld"], scores["real_fld"], scores["inception_score"],
                   scores["precision"], scores["recall"], scores["classes_covered"],
                   scores["num_classes"])
        if self.ema is not None:
            scores["ema"] = self.scorer.score(self.ema.recalibrate())
            line += "; EMA: FLD {:.3f}, IS {:.3f}, recall {:.3f}".format(
                scores["ema"]["fld"], scores["ema"]["inception_score"], scores["ema"]["recall"])
        print(line, flush=True)
        drawn = scores.get("ema", scores)             # the generator the montages show
        best = self.record.get("best")
        if best is None or drawn["fld"] < best["fld"]:
            files.save_torch(self._path(GENERATOR_BEST), self.generator_to_draw().state_dict())
            self.record["best"] = {"epoch": epoch + 1, "fld": drawn["fld"], "file": GENERATOR_BEST,
                                   "weights": "ema" if self.ema is not None else "live"}
        self._warn_if_collapsing(scores)
        self.history.set_metrics(scores)
        self.record["metrics"].append(scores)
        files.write_json(self._path(METRICS), {"evaluator": {
            "cache_file": os.path.basename(self.scorer.cachePath),
            "split": self.scorer.split.description}, "best": self.record["best"],
            "epochs": self.record["metrics"]})

    def _warn_if_collapsing(self, scores):
        earlier = self.record["metrics"][-1] if self.record["metrics"] else None
        said = mode_collapse(earlier, scores, self.record["best"]["epoch"])
        if said:
            self._warn("mode_collapse", f"epoch {self.epoch + 1}: {said}")

    def _warn_if_discriminator_won(self):
        best = self.record.get("best")
        said = discriminator_won(self.stats[:, 3].mean().item(), best and best["epoch"])
        if said:
            self._warn("discriminator_won", f"epoch {self.epoch + 1}: {said}")

    def _warn(self, kind, message):
        print(f"[WARNING] {message}", file=sys.stderr, flush=True)
        self.record.setdefault("warnings", []).append(
            {"epoch": self.epoch + 1, "kind": kind, "message": message})

    def _path(self, name):
        return os.path.join(self.output, name)

    # ---------------------------------------------------------------- finish

    def finish(self):
        """The animation of all montages, the generator's weights, and
        run.json's final status."""
        record = self.record
        if self.ctx.enabled:
            # the replicas must agree: the averaged gradients keep them in step
            digests = distributed.gather(distributed.parameters_digest(self.gen), self.ctx)
            record["replicas_identical"] = len(set(digests)) == 1
            if not record["replicas_identical"]:
                raise SystemExit("[ERROR] the generator's weights differ between processes")
        if not self.main:
            distributed.barrier(self.ctx)    # leave together: see the end of this method
            return
        written = []
        if record["montages"]:
            visualize.write_gif([self._path(m) for m in record["montages"]], self._path(GIF))
            written += ["montages", GIF]
        files.save_torch(self._path(GENERATOR), self.gen.state_dict())
        written.append(GENERATOR)
        if self.ema is not None:
            files.save_torch(self._path(GENERATOR_EMA), self.ema.recalibrate().state_dict())
            written.append(GENERATOR_EMA)
        if record.get("best"):
            written.append(GENERATOR_BEST)
            print(f"[INFO] the lowest FLD, {record['best']['fld']:.3f}, was epoch "
                  f"{record['best']['epoch']}'s: its generator is {GENERATOR_BEST}")
        finished = self.stopEpoch == self.numEpochs
        record["status"] = "finished" if finished else "stopped"
        files.write_json(self._path(RUN_JSON), record)
        if not finished:
            print(f"[INFO] stopped after epoch {self.stopEpoch} of {self.numEpochs} as asked; "
                  f"continue with: python dcgan_mnist.py --output {self.output} --resume")
        written += [HISTORY, LOSSES_PLOT, CHECKPOINT] + ([METRICS] if record["metrics"] else [])
        written.append(RUN_JSON)
        print(f"[INFO] {', '.join(written[:-1])} and {written[-1]} are in {self.output}")
        # the other processes wait here while this one writes, so that none tears
        # down its half of the process group while another still uses it
        distributed.barrier(self.ctx)

    # ------------------------------------------------------------ how it ends

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        self._close()
        if error is not None:
            self._end(error)
        return False

    def _close(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        distributed.cleanup(self.ctx)
        if sys.stdout is not self.stdout:
            sys.stdout.close()
            sys.stdout = self.stdout

    def _end(self, error):
        """Turn an interruption or a user's problem into its line and exit
        status (raising SystemExit); leave anything else (a bug) alone."""
        if isinstance(error, KeyboardInterrupt):
            if not self.claimed:
                said = f"interrupted before training began; nothing in {self.output} was changed"
            elif self.epochsSaved:
                said = (f"interrupted during epoch {self.epoch + 1}; {self._path(CHECKPOINT)} "
                        f"holds {self.epochsSaved} epochs: continue with --resume")
            else:
                said = ("interrupted during epoch 1, so nothing was saved; the same command "
                        "starts over")
            self._mark("interrupted")
            print(f"\n[INFO] {said}", file=sys.stderr, flush=True)
            raise SystemExit(130) from None
        if isinstance(error, UserError):
            self._mark("failed")
            raise SystemExit(f"[ERROR] {error}") from None
        if not isinstance(error, SystemExit):
            self._mark("failed")

    def _mark(self, status):
        """run.json's status when the run ends early (if it can be written)."""
        if self.claimed and self.main:
            self.record["status"] = status
            try:
                files.write_json(self._path(RUN_JSON), self.record)
            except UserError:
                pass
