"""The Classification Accuracy Score (CAS; Ravuri & Vinyals, NeurIPS 2019;
"GAN-train" in Shmelkov et al., ECCV 2018): a classifier trained on a
conditional generator's digits alone, labelled with the class each was
asked for (an unconditional generator's labelled by the evaluator, said as
such), tested on real digits held out from everything it and the
generator learned from. Beside it, the ceiling: the same classifier, the
same recipe, trained on as many real digits; and on request (--cas-with-
real) on those real digits and the generated ones together.
evaluate.py --cas; the protocol in docs/synthetic.md.

The classifier and its recipe are fixed (CAS numbers are comparable only
under one recipe): the evaluator's DigitClassifier (evaluator.py), CAS_EPOCHS
epochs of batches of CAS_BATCH, Adam with the one-cycle schedule the
evaluator uses, each training image shifted by up to CAS_SHIFT pixels in
each direction (a fresh shift each time it is seen, the ground filled in),
everything random drawn from the seed; dropout as the evaluator's.
"""

import json
import os

import torch
import torch.nn.functional as F

from ..cli import count_up_to
from ..data.imageset import fingerprint, to_pixels
from ..errors import UserError, printable
from ..sampling.dataset import draw
from .evaluator import (DigitClassifier, fit_classifier, held_out_indices, load_or_train,
                        predict, split_real)

CAS_EPOCHS = 10
CAS_BATCH = 128
CAS_SHIFT = 2                  # pixels, each way, of the augmentation
CAS_LR, CAS_MAX_LR = 1e-3, 2e-3
MIN_CAS_NUM, MAX_CAS_NUM = 100, 100_000
DEFAULT_CAS_NUM = 10_000


def shifted(x, generator, most=CAS_SHIFT):
    """Each image of x (N, C, S, S) in [-1, 1] moved by its own random
    whole-pixel shift of -most .. most rows and columns; what comes in at
    the border is the ground (-1, black)."""
    n, _, size, _ = x.shape
    padded = F.pad(x, (most,) * 4, value=-1.0)                   # (N, C, S + 2m, S + 2m)
    dy, dx = torch.randint(0, 2 * most + 1, (2, n), generator=generator)
    steps = torch.arange(size)
    rows = (dy[:, None] + steps)[:, None, :, None].to(x.device)  # (N, 1, S, 1)
    cols = (dx[:, None] + steps)[:, None, None, :].to(x.device)  # (N, 1, 1, S)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]                     # (N, C, S, S)


def train_cas_classifier(images, labels, numClasses, seed, device, epochs=CAS_EPOCHS,
                         log=None, what="classifier"):
    """The fixed recipe's DigitClassifier trained on uint8 `images`
    (N, C, S, S) with `labels` (N,); deterministic for a seed on a device.
    Leaves the global random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(numClasses, images.shape[1], images.shape[-1]).to(device)
        fit_classifier(model, images, labels, epochs, CAS_BATCH, CAS_LR, CAS_MAX_LR, seed, device,
                       augment=shifted, report=log and (lambda epoch, loss: log(
                           f"[INFO] {what}: epoch {epoch}/{epochs}, loss {loss:.4f}")))
    return model.eval()


def accuracies(model, images, labels, names, device):
    """(the share of `images` the model labels right, {class name: its share})."""
    _, probs = predict(model, images, device)
    right = probs.argmax(1) == labels
    perClass = {name: right[labels == label].double().mean().item()
                for label, name in enumerate(names) if (labels == label).any()}
    return right.double().mean().item(), perClass


def recorded_training_data(saved, path):
    """(the SHA-256 of the generator's training images, its --limit) as
    the file records them: a checkpoint.pt's run record, an exported
    folder's config.json, or the run.json beside a generator.pth; (None,
    None) where nothing says."""
    config = getattr(saved, "config", None)
    if isinstance(config, dict):
        return config.get("data_sha256"), (config.get("training_arguments") or {}).get("limit")
    if isinstance(saved, dict) and isinstance(saved.get("run"), dict):
        return saved["run"].get("data_sha256"), (saved.get("args") or {}).get("limit")
    beside = os.path.join(os.path.dirname(os.path.abspath(os.fspath(path))), "run.json")
    try:
        with open(beside, encoding="utf-8") as f:
            record = json.load(f)
        return record.get("data_sha256"), (record.get("arguments") or {}).get("limit")
    except (OSError, ValueError, AttributeError):
        return None, None


def held_out_check(recordedSha, limit, imageSet, seed):
    """Whether the held-out real digits are digits the generator was
    trained on: UserError (one line) when the record says they are (the
    recorded SHA-256 is these images' first `limit`, which hold held-out
    ones); else a line saying what could be told."""
    if not recordedSha:
        return ("cannot tell whether the generator saw the held-out digits: its file records "
                "no data_sha256 of its training images (a generator.pth without its run.json); "
                "make sure they are not among them")
    if recordedSha != fingerprint(imageSet.head(limit)):
        return ("the generator was trained on other images than these (its data_sha256 is "
                "not theirs): the held-out digits are not its training set, though a hash "
                "cannot tell whether some of them were among it")
    trainedOn = min(limit or len(imageSet), len(imageSet))
    _, held, _ = held_out_indices(imageSet, seed)
    seen = int((held < trainedOn).sum())
    if seen:
        raise UserError(f"--cas: {seen:,} of the {len(held):,} held-out digits of "
                        f"{imageSet.source} are digits the generator was trained on (its "
                        f"data_sha256 is these images' first {trainedOn:,}): CAS must be tested "
                        "on digits it never saw; pass --data-dir with other real digits (e.g. a "
                        "folder holding only the split it did not train on)")
    return (f"the generator was trained on the first {trainedOn:,} of these images (its "
            "data_sha256): the held-out digits are none of them")


def labelled_by_evaluator(images, split, seed, device, names, log=print):
    """An unconditional generator's digits labelled by the project's
    evaluator (the classifier every score here uses, trained on the real
    training part of `split`): its most likely class for each. Said as
    such, with the share each class got."""
    model, accuracy, _ = load_or_train(split, seed, device, log)
    _, probs = predict(model, images, device)
    labels = probs.argmax(1).cpu()
    counts = torch.bincount(labels, minlength=len(names))
    log(f"[INFO] the generator is unconditional: its {len(images):,} digits are labelled by the "
        f"evaluator ({accuracy:.1%} right on held-out real digits), not by a class asked for, so "
        "CAS here scores the evaluator's labels as well as the digits; their classes: "
        + ", ".join(f"{name} {n / len(images):.1%}" for name, n in zip(names, counts.tolist())))
    return labels


def classification_accuracy_score(gen, imageSet, split, num, seed, truncation, device,
                                  log=print, withReal=False):
    """CAS of the generator `gen` against the real `split`
    (evaluator.split_real of `imageSet`): the fixed classifier trained on
    `num` generated digits (sampling.dataset.draw: the digits generate.py
    --write-dataset --num NUM --seed SEED writes; an unconditional
    generator's labelled by the evaluator) and on as many real training
    digits (all of them, when fewer), both tested on the held-out real
    digits; withReal: also on those real digits and the generated ones
    together. A dict of numbers."""
    if not imageSet.classes:
        raise UserError(f"--cas tests on labelled real digits, and {imageSet.source} has no "
                        "classes: pass --data-dir with the real digits in class subfolders")
    names = [printable(c) for c in imageSet.classes]
    numClasses = len(names)
    images, labels = draw(gen, num, seed, truncation, device)
    labelsBy = "the class asked for"
    if labels is None:
        labels, labelsBy = labelled_by_evaluator(images, split, seed, device, names, log), \
            "the evaluator"
    realNum = min(num, len(split.trainImages))
    if realNum < num:
        log(f"[INFO] only {len(split.trainImages):,} real training digits, fewer than "
            f"{num:,}: the ceiling is trained on all of them")
    pick = torch.randperm(len(split.trainImages),
                          generator=torch.Generator().manual_seed(seed))[:realNum]
    realImages, realLabels = split.trainImages[pick], split.trainLabels[pick]
    log(f"[INFO] CAS: training the classifier on {num:,} generated digits, then on {realNum:,} "
        "real ones" + (f", then on both together ({realNum + num:,})" if withReal else "")
        + f" ({CAS_EPOCHS} epochs each), testing on {len(split.heldOutImages):,} held-out "
        "real digits")
    test = lambda model: accuracies(model, split.heldOutImages, split.heldOutLabels,  # noqa: E731
                                    names, device)
    cas, casPerClass = test(train_cas_classifier(
        images, labels, numClasses, seed, device, log=log,
        what="CAS classifier on generated digits"))
    ceiling, realPerClass = test(train_cas_classifier(
        realImages, realLabels, numClasses, seed, device, log=log,
        what="CAS classifier on real digits"))
    both, bothPerClass = None, {}
    if withReal:
        both, bothPerClass = test(train_cas_classifier(
            torch.cat((realImages, images.cpu())), torch.cat((realLabels, labels.cpu())),
            numClasses, seed, device, log=log, what="CAS classifier on real and generated digits"))
    perClass = {name: {"cas": casPerClass.get(name), "real": realPerClass.get(name),
                       **({"real_and_generated": bothPerClass.get(name)} if withReal else {})}
                for name in names}
    return {"cas": cas, "real": ceiling, "ratio": cas / ceiling if ceiling else None,
            "real_and_generated": both, "per_class": perClass, "labels": labelsBy,
            "num_generated": num, "num_real": realNum,
            "num_held_out": len(split.heldOutImages), "truncation": truncation,
            "classifier": (f"evaluator.DigitClassifier, {CAS_EPOCHS} epochs, batches of "
                           f"{CAS_BATCH}, Adam + one-cycle (max lr {CAS_MAX_LR:g}), shifts of up "
                           f"to {CAS_SHIFT} pixels, seed {seed}")}


def cas_lines(numbers):
    """The human summary of classification_accuracy_score's numbers."""
    ratio = "" if numbers["ratio"] is None else f"; ratio {numbers['ratio']:.3f}"
    lines = [f"CAS {numbers['cas']:.1%} (trained on {numbers['num_generated']:,} generated "
             f"digits, tested on {numbers['num_held_out']:,} held-out real ones); the same "
             f"classifier on {numbers['num_real']:,} real digits: {numbers['real']:.1%}{ratio}"]
    both = numbers.get("real_and_generated")
    if both is not None:
        change = both - numbers["real"]
        lines.append(f"the same classifier on the {numbers['num_real']:,} real digits and the "
                     f"{numbers['num_generated']:,} generated ones together: {both:.1%} "
                     f"({change * 100:+.1f} points against the real ones alone)")
    for name, n in numbers["per_class"].items():
        shown = lambda v: "-" if v is None else f"{v:.1%}"   # noqa: E731 - a class without test digits
        lines.append(f"  class {name}: CAS {shown(n['cas'])}, real {shown(n['real'])}"
                     + (f", both {shown(n['real_and_generated'])}" if both is not None else ""))
    return lines


def add_cas_options(ap):
    """evaluate.py's --cas and --cas-num."""
    ap.add_argument("--cas", action="store_true",
        help="score a generator by CAS alone (docs/synthetic.md): a fixed classifier "
             "trained on --cas-num generated digits, labelled by the class asked for (an "
             "unconditional generator's by the evaluator, said so), tested on "
             "the real held-out digits; beside it the same classifier trained on as many real "
             "digits, and their ratio. Refused when the generator's record says it trained on "
             "the held-out digits (default: off)")
    ap.add_argument("--cas-num", type=count_up_to(MAX_CAS_NUM, MIN_CAS_NUM),
                    default=DEFAULT_CAS_NUM,
        help=f"with --cas: generated digits the classifier trains on, from {MIN_CAS_NUM} to "
             f"{MAX_CAS_NUM} (default: {DEFAULT_CAS_NUM})")
    ap.add_argument("--cas-with-real", action="store_true",
        help="with --cas: also train the classifier on the ceiling's real digits and the "
             "generated ones together: does adding generated digits to real ones help? "
             "(default: off)")


def check_cas_arguments(ap, args):
    """--cas scores CAS alone: argparse's usage error for what it leaves out."""
    if not args.cas:
        if args.cas_with_real:
            ap.error("argument --cas-with-real: adds a number to --cas's; give --cas too")
        return
    for option in ("nearest", "truncation_curve", "rejection", "langevin"):
        if getattr(args, option) not in (None, False):
            ap.error(f"argument --{option.replace('_', '-')}: not with --cas (it scores CAS "
                     "alone; run the other scores in another command)")


def score_cas(gen, saved, path, imageSet, num, seed, truncation, device, log=print,
              withReal=False):
    """evaluate.py --cas: the held-out check said (or the refusal), then
    classification_accuracy_score's numbers, each line logged."""
    recordedSha, limit = recorded_training_data(saved, path)
    log(f"[{'INFO' if recordedSha else 'WARNING'}] "
        + held_out_check(recordedSha, limit, imageSet, seed))
    numbers = classification_accuracy_score(gen, imageSet, split_real(imageSet, seed), num, seed,
                                            truncation, device, log, withReal)
    for line in cas_lines(numbers):
        log("[RESULT] " + line)
    return numbers
