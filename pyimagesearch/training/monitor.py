"""Watching the quality of a run: --eval-every's scores (the evaluator
built at the first evaluation, metrics.json, the best generator kept as
generator_best.pth) and the two signs of a failing run that earn a
[WARNING] (docs/quality.md), with their thresholds."""

import math
import os
import sys

from .. import files
from ..quality import metrics
from .output_folder import GENERATOR_BEST, METRICS

D_WON = 0.02            # epoch mean of D(G(z)) below this: the discriminator has won
COLLAPSE_DROP = 0.3     # classes_covered falling by this share of the classes (at least 2)


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


def conditioning_said(scores):
    """The epoch line's words for a conditional generator's conditioning."""
    numbers = scores.get("conditioning")
    if not numbers:
        return ""
    return ", as asked {:.1%} (worst: {} {:.1%})".format(
        numbers["accuracy"], numbers["worst_class"], numbers["worst_accuracy"])


def usable_eval_every(fullData, evalEvery):
    """--eval-every, or 0 (said) when the evaluator cannot score `fullData`
    (an ImageSet)."""
    why = metrics.why_not_scorable(fullData) if evalEvery else None
    if why:
        print(f"[INFO] --eval-every skipped: {why}")
        return 0
    return evalEvery


class QualityMonitor:
    """The quality checks of one run, writing into `folder` (an
    OutputFolder) and `record` (a RunRecord). evalEvery: --eval-every (0:
    never scored); the scorer is built from `fullData` (the ImageSet), the
    GAN's own `trainedOn` images, `seed`, `device`, `num` samples;
    truncation (--eval-truncation): the montages' generator also scored
    with its noise truncated at T."""

    def __init__(self, folder, record, evalEvery, numEpochs, fullData, trainedOn, seed, device,
                 num, truncation=None):
        self.folder, self.record, self.truncation = folder, record, truncation
        self.evalEvery, self.numEpochs = evalEvery, numEpochs
        self.fullData, self.trainedOn = fullData, trainedOn
        self.seed, self.device, self.num = seed, device, num
        self.scorer = None              # the evaluator, built at the first evaluation

    def due(self, epoch):
        """Whether epoch `epoch` (0-based) is scored."""
        return bool(self.evalEvery) and ((epoch + 1) % self.evalEvery == 0
                                         or epoch + 1 == self.numEpochs)

    def check_discriminator(self, epoch, meanDGz):
        best = self.record.best
        said = discriminator_won(meanDGz, best and best["epoch"])
        if said:
            self._warn(epoch, "discriminator_won", said)

    def evaluate(self, epoch, gen, ema=None):
        """Score `gen` (and the EMA's generator) on the fixed noise; keep the
        generator the montages show as generator_best.pth whenever its FLD
        is the lowest so far; metrics.json. Returns the scores."""
        if self.scorer is None:
            self.scorer = metrics.Scorer(self.fullData, seed=self.seed, device=self.device,
                                         num=self.num, trainedOn=self.trainedOn)
        scores = {"epoch": epoch + 1, **self.scorer.score(gen)}
        line = "[INFO] epoch {}: FLD {:.3f} (real data: {:.3f}), IS {:.3f}, precision {:.3f}, " \
               "recall {:.3f}, {} of {} classes".format(
                   epoch + 1, scores["fld"], scores["real_fld"], scores["inception_score"],
                   scores["precision"], scores["recall"], scores["classes_covered"],
                   scores["num_classes"])
        line += conditioning_said(scores)
        if ema is not None:
            scores["ema"] = self.scorer.score(ema.recalibrate())
            line += "; EMA: FLD {:.3f}, IS {:.3f}, recall {:.3f}".format(
                scores["ema"]["fld"], scores["ema"]["inception_score"], scores["ema"]["recall"])
            line += conditioning_said(scores["ema"])
        if self.truncation is not None:
            shown = gen if ema is None else ema.recalibrate()
            scores["truncated"] = self.scorer.score(shown, truncation=self.truncation)
            line += "; {}truncated at T = {:g}: FLD {:.3f}, recall {:.3f}".format(
                "" if ema is None else "EMA ", self.truncation, scores["truncated"]["fld"],
                scores["truncated"]["recall"])
            line += conditioning_said(scores["truncated"])
        print(line, flush=True)
        drawn = scores.get("ema", scores)             # the generator the montages show
        best = self.record.best
        if best is None or drawn["fld"] < best["fld"]:
            drawnGen = gen if ema is None else ema.recalibrate()
            files.save_torch(self.folder.file(GENERATOR_BEST), drawnGen.state_dict())
            self.record.set_best({"epoch": epoch + 1, "fld": drawn["fld"], "file": GENERATOR_BEST,
                                  "weights": "ema" if ema is not None else "live"})
        earlier = self.record.metrics[-1] if self.record.metrics else None
        said = mode_collapse(earlier, scores, self.record.best["epoch"])
        if said:
            self._warn(epoch, "mode_collapse", said)
        self.record.add_metrics(scores)
        files.write_json(self.folder.file(METRICS), {"evaluator": {
            "cache_file": os.path.basename(self.scorer.cachePath),
            "split": self.scorer.split.description}, "best": self.record.best,
            "epochs": self.record.metrics})
        return scores

    def _warn(self, epoch, kind, said):
        message = f"epoch {epoch + 1}: {said}"
        print(f"[WARNING] {message}", file=sys.stderr, flush=True)
        self.record.add_warning(epoch, kind, message)
