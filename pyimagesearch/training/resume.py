"""--resume: what it needs saved after every epoch (`save_checkpoint`),
reading it back with its messages, merging the arguments typed now with the
checkpoint's by each option's resume rule, checking that the run can go on
(the same processes, the same images), and restoring everything the next
epoch depends on."""

import json
import os

from ..checkpoint import Checkpoint, CheckpointError, load_checkpoint, mismatch
from ..data.imageset import DataError
from ..errors import UsageError, printable, shorten
from .options import PER_INVOCATION, SHAPES
from .history import History
from .output_folder import CHECKPOINT, GENERATOR, GENERATOR_EMA, GIF, RUN_JSON, run_files, \
    stopped_before_first_epoch
from .record import RunRecord


def save_checkpoint(path, epoch, gen, disc, genOpt, discOpt, ema, benchmarkNoise, history,
                    rng, record, dataDir):
    """checkpoint.pt after epoch `epoch` (0-based): the models, their Adams
    and EMA, the montages' noise, the History, every process's random states
    `rng`, the RunRecord and --data-dir (absolute)."""
    Checkpoint(epoch=epoch + 1, generator=gen.state_dict(), discriminator=disc.state_dict(),
               genOpt=genOpt.state_dict(), discOpt=discOpt.state_dict(),
               benchmarkNoise=benchmarkNoise.cpu(), history=history.rows, rng=rng,
               args=record.arguments, run=record.content,
               ema=None if ema is None else ema.state_dict(),
               dataDir=os.path.abspath(dataDir)).save(path)


def what_changed(saved, fingerprint, data):
    """How `data` (an ImageSet, fingerprinted) differs from the images of
    `saved` (a run record), in words: the source, the count, the class
    names, and the SHA-256 of the pixels, which always differs."""
    changes = []
    if saved.get("data_source") != data.source:
        changes.append(f"from {saved.get('data_source')}, now from {data.source}")
    if saved.get("num_train_images") != len(data):
        changes.append(f"{saved.get('num_train_images'):,} images, now {len(data):,}")
    names = saved.get("class_names") or ((saved.get("metrics") or [{}])[-1].get("class_names"))
    if names is not None and data.classes is not None and list(names) != list(data.classes):
        changes.append(f"classes {', '.join(printable(str(n)) for n in names)}, "
                       f"now {', '.join(printable(n) for n in data.classes)}")
    same = "" if changes else f"the same {len(data):,} images in another order or with other pixels: "
    changes.append(f"{same}SHA-256 {str(saved.get('data_sha256'))[:12]}..., now {fingerprint[:12]}...")
    return changes


def merge_arguments(saved, args, typed, rules):
    """The arguments of a resumed run, as a new dict: `args` as parsed now,
    `typed` the ones given on this command line, `saved` the checkpoint's,
    `rules` each option's resume rule (options.resume_rules). An option
    that shapes the training may not change (UsageError); one of this
    invocation is never taken from the checkpoint; any other not typed
    again is the checkpoint's."""
    for name, rule in rules.items():
        if rule == SHAPES and name in typed and typed[name] != saved.get(name):
            flag = "--" + name.replace("_", "-")
            was = saved.get(name)
            was = "the default (not given)" if was is None else was
            raise UsageError(f"argument {flag}: {typed[name]} differs from the "
                             f"checkpoint's {was}; a resumed run keeps {flag} "
                             "(start a new run in another --output folder instead)")
    merged = dict(args)
    for name, value in saved.items():
        if name in args and name not in typed and rules.get(name) != PER_INVOCATION:
            merged[name] = value
    return merged


def epochs_to_train(output, numEpochs, startEpoch, stopAfter, missing=()):
    """The epoch after this invocation's last (0-based: it trains
    startEpoch up to this): --epochs, or --stop-after's limit. A run that
    trained all its epochs trains none: it only writes the final files
    `missing` (a disk that filled up at the end), or, with none missing,
    ends here (SystemExit(0))."""
    if startEpoch >= numEpochs:
        if missing:
            print(f"[INFO] {output} trained all {startEpoch} epochs, but its "
                  f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing: "
                  "writing them")
            return startEpoch
        print(f"[INFO] {output} already finished {startEpoch} of {numEpochs} "
              "epochs; nothing to do (pass a larger --epochs to train further)")
        raise SystemExit(0)
    return numEpochs if stopAfter is None else min(numEpochs, startEpoch + stopAfter)


def final_files_missing(output, checkpoint):
    """What the end of a run writes that `output` lacks, for the run of
    `checkpoint`: output.gif (if it drew montages), generator.pth,
    generator_ema.pth (with --ema), and run.json's "finished"."""
    names = ([GIF] if checkpoint.run.get("montages") else []) + [GENERATOR] \
        + ([GENERATOR_EMA] if checkpoint.ema is not None else [])
    missing = [name for name in names if not os.path.isfile(os.path.join(output, name))]
    try:
        if not os.path.isfile(os.path.join(output, RUN_JSON)):     # (a FIFO would block)
            raise OSError("not a file")
        with open(os.path.join(output, RUN_JSON)) as f:
            finished = json.load(f).get("status") == "finished"
    except (OSError, ValueError, AttributeError):
        finished = False
    return missing + ([] if finished or missing else [f"{RUN_JSON}'s \"finished\""])


class Resume:
    """The checkpoint a run continues from (`checkpoint`, a
    checkpoint.Checkpoint) and what is done with it."""

    def __init__(self, checkpoint, path):
        self.checkpoint, self.path = checkpoint, path

    @classmethod
    def load(cls, output):
        """The checkpoint in the folder `output`; CheckpointError saying
        why it cannot be resumed."""
        path = os.path.join(output, CHECKPOINT)
        if not os.path.lexists(path) and os.path.exists(os.path.join(output, RUN_JSON)):
            if stopped_before_first_epoch(output, run_files(output)):
                raise CheckpointError(f"cannot resume: {output} holds no {CHECKPOINT}, so its "
                                      "run stopped before finishing its first epoch; the same "
                                      "command without --resume starts it again")
            raise CheckpointError(f"cannot resume: {output} holds no {CHECKPOINT} (moved or "
                                  "deleted?), and a run goes on only from its checkpoint; "
                                  "--overwrite instead of --resume starts a new run there")
        try:
            return cls(load_checkpoint(path), path)
        except CheckpointError as e:
            raise CheckpointError(f"cannot resume: {e}") from None

    @property
    def epoch(self):
        """Epochs the checkpoint has finished."""
        return self.checkpoint.epoch

    def data_dir(self, dataDir, typed):
        """--data-dir: the checkpoint's as an absolute path (found from any
        working folder, though run.json keeps it as typed) unless typed."""
        if "data_dir" not in typed and self.checkpoint.dataDir:
            return self.checkpoint.dataDir
        return dataDir

    def check_processes(self, worldSize):
        saved = self.checkpoint.run.get("world_size", 1)
        if saved != worldSize:
            raise CheckpointError(
                f"cannot resume: the checkpoint was trained by {saved} processes, this is "
                f"{worldSize} (the effective batch size would change)")

    def check_images(self, fingerprint, data):
        """DataError unless `data` (an ImageSet, fingerprinted) are the
        images the checkpoint was trained on."""
        saved = self.checkpoint.run
        if saved["data_sha256"] != fingerprint:
            raise DataError(f"cannot resume: the checkpoint was trained on other images "
                            f"({'; '.join(what_changed(saved, fingerprint, data))}): resume "
                            "on the images it was trained on, or train anew in another --output")

    def restore(self, gen, disc, genOpt, discOpt, ema, streams, rank):
        """The weights, Adam's states, the EMA and this process's random
        streams as the checkpoint left them; returns its benchmark noise.
        CheckpointError when they do not fit the models."""
        checkpoint = self.checkpoint
        for model, state in ((gen, checkpoint.generator), (disc, checkpoint.discriminator)):
            said = mismatch(model, state)
            if said:
                raise CheckpointError(f"cannot resume: {self.path} does not fit the article's "
                                      f"models ({said})")
        try:
            gen.load_state_dict(checkpoint.generator)
            disc.load_state_dict(checkpoint.discriminator)
            genOpt.load_state_dict(checkpoint.genOpt)
            discOpt.load_state_dict(checkpoint.discOpt)
            if ema is not None:
                ema.load_state_dict(checkpoint.ema)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"cannot resume: {self.path} does not fit the article's "
                                  f"models ({shorten(e, 200)})") from None
        streams.restore(checkpoint.rng[rank])
        return checkpoint.benchmarkNoise

    def history(self):
        return History(self.checkpoint.history)

    def record(self, path):
        """The run record the checkpoint kept, continued from here."""
        return RunRecord.resumed(path, self.checkpoint.run, self.epoch)

    def missing(self):
        """The final files the run's folder lacks (final_files_missing)."""
        return final_files_missing(os.path.dirname(self.path), self.checkpoint)

    def say(self, output, numEpochs, weightDecay):
        """The lines that tell where the run goes on."""
        began = self.checkpoint.args["epochs"]
        if numEpochs != began:
            print(f"[INFO] continuing to {numEpochs} epochs (the run began with {began}); "
                  f"Adam's weight decay stays {weightDecay:g} as it began")
        print(f"[INFO] resuming {output} after epoch {self.epoch} of {numEpochs}")
