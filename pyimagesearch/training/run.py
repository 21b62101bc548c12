"""One invocation of dcgan_mnist.py, from the first check to the last file:
the conductor that puts the parts of a run's life in order. The script keeps
the article's statements; around them it makes these calls:

    with TrainingRun(ap, args, argv) as run:   # options, folder, checkpoint, device checked
        DEVICE = run.device
        data = run.load_data()
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

Each concern is a part of its own: the process (process.py), the output
folder (output_folder.py), --resume (resume.py), the random streams
(streams.py), the images (images.py), the models in training (trained.py), the
epoch's statistics (stats.py), the run record (record.py), the quality
checks (monitor.py), --tensorboard (board.py). docs/architecture.md lists
which writes what, when.
"""

import os

from ..data.sources import SHOWN_NAMES
from ..device import fused_adam
from . import board, distributed, ending, images, options
from .history import History
from .monitor import QualityMonitor, usable_eval_every
from .output_folder import CHECKPOINT, HISTORY, LOSSES_PLOT, RUN_JSON, OutputFolder
from .process import Process
from .recipes import RecipeInTraining, recipe_of
from .record import RunRecord
from .resume import Resume, epochs_to_train, merge_arguments
from .stats import EpochStats
from .streams import RandomStreams
from .trained import TrainedModels


class TrainingRun:
    """`ap`: the script's parser; `args`: its arguments (a dict); `argv`: the
    command line (None: sys.argv). With --resume the options not typed again
    become the checkpoint's, in `args`: the script reads them there."""

    def __init__(self, ap, args, argv=None):
        self.folder, self.output = OutputFolder(args["output"]), args["output"]
        self.resume = self.record = self.process = self.ctx = None
        self.board = board.NoTensorBoard()
        self.claimed, self.epoch, self.epochsSaved, self.main = False, 0, 0, True
        try:
            self.process = Process()
            self.ctx, self.main = self.process.ctx, self.process.main
            self._check(ap, args, argv)
        except BaseException as e:
            self.__exit__(type(e), e, None, ap)
            raise

    def _check(self, ap, args, argv):
        """Everything checked before the data; nothing written."""
        options.check(ap, args)
        rules, typed = options.resume_rules(ap), options.explicit(ap, argv)
        self.dataDir = args["data_dir"]
        if isinstance(args["tensorboard"], str):      # a resume from elsewhere finds it
            args["tensorboard"] = os.path.abspath(args["tensorboard"])
        self.folder.lock_if_present(self.main)
        self.folder.recover_or_wait(self.main)      # a killed --overwrite's set-aside run
        if args["resume"]:
            self.resume = Resume.load(self.output)
            args.update(merge_arguments(self.resume.checkpoint.args, args, typed, rules))
            options.check_eval_truncation(ap, args)          # the checkpoint's, checked too
            self.dataDir = self.resume.data_dir(self.dataDir, typed)
        self.args, self.command = args, options.command_of(ap, args)
        self.dataName = SHOWN_NAMES[args["dataset"]]     # "MNIST", as the article says
        self.folder.plan(args["overwrite"], resuming=args["resume"])
        self.boardFolder = board.checked_folder(
            args["tensorboard"], self.output, args["resume"],
            self.resume and board.folder_of(self.resume.checkpoint.args.get("tensorboard"),
                                            self.output))
        self.numEpochs = args["epochs"]
        self.startEpoch = self.epochsSaved = self.resume.epoch if self.resume else 0
        self.stopEpoch = epochs_to_train(self.output, self.numEpochs, self.startEpoch,
                                         args["stop_after"], self.resume and self.resume.missing())
        if self.resume:
            self.resume.check_processes(self.ctx.worldSize)
        self.device = self.process.device(args["device"])
        recipe = recipe_of(args)
        self.streams = RandomStreams(args["seed"], self.ctx.rank, self.device, recipe.random,
                                     self.ctx.worldSize, classes=args["conditional"])
        self.noiseGen, self.fusedAdam = self.streams.noise, fused_adam(self.device)
        self.recipe = RecipeInTraining(recipe, self.numEpochs, self.streams.augment)
        self.process.say(self.device, args["seed"], args["batch_size"], args["amp"])
        if not recipe.is_article:
            print(f"[INFO] training recipe: {recipe.describe()}")

    def load_data(self):
        """The training images (an ImageSet); with --resume, the checkpoint's."""
        self.fullData, self.data, self.fingerprint = images.training_images(
            self.ctx, self.args, self.dataDir, self.resume)
        self.evalEvery = usable_eval_every(self.fullData, self.args["eval_every"])
        self.numClasses = images.classes_to_tell(self.data, self.args["conditional"], self.main)
        return self.data

    def dataloader(self, data, transform, batch_size):
        """Shuffled batches on the device (under torchrun, this process's share)."""
        self.loader = images.device_loader(data, transform, batch_size, self.device,
                                           self.streams.shuffle, self.ctx, self.args)
        return self.loader

    def start(self, gen, disc, genOpt, discOpt, benchmarkNoise):
        """Restore (--resume), claim the folder; returns the modules to train
        (gen and disc, or their --amp/--compile wrappers) and the noise."""
        self.models = models = TrainedModels(gen, disc, genOpt, discOpt, benchmarkNoise,
                                             self.device, self.args["ema"])
        path = self.folder.file(RUN_JSON)
        if self.resume:
            models.restore(self.resume, self.streams, self.ctx.rank)
            self.history, self.record = self.resume.history(), self.resume.record(path)
            self.resume.say(self.output, self.numEpochs, genOpt.param_groups[0]["weight_decay"])
        else:
            self.history = History()
            self.record = RunRecord.new(path, self.args["seed"], self.args["dataset"], self.data,
                                        self.fingerprint, self.device, self.ctx)
        self.record.begin(self.args, self.recipe.recipe.describe(), self.command)
        # --conditional: one class a row of the 16 x 16 montage, in order
        self.benchmarkClasses = images.montage_classes(len(models.benchmarkNoise),
                                                       self.numClasses, self.device)
        self.monitor = QualityMonitor(self.folder, self.record, self.evalEvery, self.numEpochs,
                                      self.fullData, self.data.images, self.args["seed"],
                                      self.device, self.args["eval_num"],
                                      self.args.get("eval_truncation"))
        self.recipe.watch(disc)
        if self.main:
            self.folder.claim(newRun=not self.args["resume"])
            self.record.write()
            self.claimed = True
            self.board = board.start(self.boardFolder, len(self.history.rows),
                                     live=not self.ctx.enabled, options=None if self.resume
                                     else (self.args, self.recipe.recipe.describe()))
        self.process.stop_at_safe_points()
        return models.to_train(self.ctx, self.args["amp"], self.args["compile"])

    def classes(self, realClasses):
        """--conditional: (the fakes' classes, those D sees); else (None, None)."""
        if not self.numClasses:
            return None, None
        return self.streams.fake_classes(realClasses, self.numClasses,
                                         asReal=self.args.get("balanced_batches", False))

    def epochs(self):
        """This invocation's epochs (0-based), up to --epochs or --stop-after."""
        for epoch in range(self.startEpoch, self.stopEpoch):
            self.epoch = epoch
            self.process.stop_if_asked()      # a stop asked during the last epoch's files
            self.stats = EpochStats.shown(epoch, self.numEpochs, self.loader,
                                          self.main and not self.args["no_progress"],
                                          self.diverged)
            self.recipe.start_epoch(epoch)
            self.board.start_epoch(len(self.history.rows))
            yield epoch

    def add_batch(self, errorG, errorD, meanDx, meanDGz):
        self.stats.add(errorG, errorD, meanDx, meanDGz)      # (Diverged: a loss not finite)
        self.board.batches(self.stats.batches)
        self.process.stop_if_asked()

    def epoch_losses(self):
        """The epoch's mean G and D losses (over all processes under torchrun);
        Diverged if a batch's are not finite numbers."""
        self.stats.close(self.ctx, self.device)
        return self.stats.means("loss_g", "loss_d")

    def diverged(self, batch):
        """The error that stops a run whose losses are no longer finite
        numbers, at batch `batch` (1-based) of this epoch."""
        return ending.diverged(batch, self.epoch, self.epochsSaved, self.folder.file(CHECKPOINT),
                               self.recipe.recipe)

    def generator_to_draw(self):
        """The generator the montages show: the averaged one with --ema."""
        return self.models.to_draw()

    def end_epoch(self, montage=None):
        """Record the epoch (and its montage): the quality checks, checkpoint.pt,
        history.csv, losses.png, run.json, the events. Every process gives its rng."""
        rng = distributed.gather(self.streams.capture(), self.ctx)
        if not self.main:
            return
        epoch, record = self.epoch, self.record
        if montage:
            record.add_montage(os.path.basename(montage))
        self.history.add_epoch(epoch, self.stats.table)
        self.monitor.check_discriminator(epoch, self.stats.mean("d_g_z"))
        models = self.models
        scores = self.monitor.evaluate(epoch, models.gen, models.ema) if self.monitor.due(epoch) else None
        if scores:
            self.history.set_metrics(scores)
        record.add_epoch(epoch, self.stats.seconds, *self.stats.means("loss_g", "loss_d"))
        models.save(self.folder.file(CHECKPOINT), epoch, self.history, rng, record, self.dataDir)
        self.epochsSaved = epoch + 1
        record.saved()               # what run.json says if what follows fails
        self.folder.saved_an_epoch()
        self.history.write(self.folder.file(HISTORY), self.folder.file(LOSSES_PLOT))
        record.write()
        self.board.end_epoch(epoch, self.stats.table, montage, scores)    # after the checkpoint

    def finish(self):
        """output.gif, the generator's weights, and run.json's last status."""
        if self.ctx.enabled:
            ending.check_replicas(self.models.gen, self.ctx, self.record)
        if self.main:
            ending.write_final_files(self.folder, self.record, self.models.gen, self.models.ema,
                                     self.stopEpoch, self.numEpochs,
                                     distributed.launcher(self.ctx))
        distributed.barrier(self.ctx)     # none leaves the group while the first writes

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback, parser=None):
        """On an error, ending.end's line; then the folder and process let go."""
        try:
            if error is not None:
                if ending.broke_the_loss(error):
                    done = len(self.stats.batches) if hasattr(self, "stats") else 0
                    error = self.diverged(done + 1)
                self.board.close(failing=True)    # its events go too, if the run gives back
                self.board = board.NoTensorBoard()
                back = self.folder.give_back()      # (also when cut short while claiming)
                ending.end(error, parser, None if back or not (self.claimed and self.main)
                           else self.record, ending.interrupted(
                               self.output, self.claimed, self.epoch, self.epochsSaved,
                               self.folder.file(CHECKPOINT), self.ctx, self.main), back)
        finally:
            self.board.close()
            self.folder.release()
            if self.process is not None:
                self.process.close()
        return False
