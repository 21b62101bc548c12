"""The run record, run.json: what it holds and when it is written.

Its status goes from "running" (written when the folder is claimed, again
every epoch) to "finished" or "stopped" (--stop-after) at the end, or to
"interrupted" (Ctrl-C) or "failed" (an error) if the run ends early; a
resumed run is "running" again. The checkpoint keeps a copy of it.
"""

import copy
import platform

import numpy
import torch

from .. import files
from ..device import describe
from ..errors import UserError

STATUSES = ("running", "finished", "stopped", "interrupted", "failed")


def versions():
    import cv2              # imported here only: OpenCV takes a while to import
    import torchvision      # likewise, about a second
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,
            "opencv": cv2.__version__}


class RunRecord:
    """run.json's `content` (a dict, the checkpoint's `run`), written to `path`."""

    def __init__(self, content, path):
        self.content, self.path = content, path
        self.checkpointed = None        # the content as the last checkpoint.pt holds it

    @classmethod
    def new(cls, path, seed, dataset, data, fingerprint, device, ctx):
        """The record of a new run on `data` (an ImageSet) with that SHA-256
        `fingerprint`, on `device`, in the processes of `ctx`."""
        return cls({"arguments": {}, "seed": seed, "dataset": dataset,
                    "data_source": data.source, "embedded_fallback": data.fallback,
                    "class_names": list(data.classes) if data.classes else None,
                    "num_train_images": len(data), "data_sha256": fingerprint,
                    "image_size": data.size, "channels": data.channels,
                    "device": describe(device), "world_size": ctx.worldSize,
                    "distributed_backend": ctx.backend or None, "versions": versions(),
                    "seconds_per_epoch": [], "losses": [], "montages": [],
                    "resumed_at_epochs": [], "metrics": [], "status": "running"}, path)

    @classmethod
    def resumed(cls, path, content, epoch):
        """The record a checkpoint kept, continued after `epoch` epochs."""
        record = cls(content, path)
        record.content["resumed_at_epochs"].append(epoch)
        return record

    def begin(self, args, recipe=None, command=None):
        """This invocation's arguments (a dict), the training recipe in
        words (recipes.Recipe.describe), the command that trains the run
        (options.command_of), and "running"."""
        self.content["arguments"] = dict(args)
        if recipe is not None:
            self.content["recipe"] = recipe
        if command is not None:
            self.content["command"] = command
        self.content["status"] = "running"

    @property
    def arguments(self):
        return self.content["arguments"]

    @property
    def best(self):
        """The best epoch so far by FLD ({"epoch", "fld", ...}) or None."""
        return self.content.get("best")

    @property
    def metrics(self):
        return self.content["metrics"]

    @property
    def montages(self):
        return self.content["montages"]

    def add_montage(self, path):
        self.content["montages"].append(path)

    def add_epoch(self, epoch, seconds, lossG, lossD):
        """Epoch `epoch` (0-based) took `seconds`, with these mean losses."""
        self.content["seconds_per_epoch"].append(round(seconds, 3))
        self.content["losses"].append({"epoch": epoch + 1, "generator": lossG,
                                       "discriminator": lossD})

    def add_metrics(self, scores):
        self.content["metrics"].append(scores)

    def set_best(self, best):
        self.content["best"] = best

    def add_warning(self, epoch, kind, message):
        self.content.setdefault("warnings", []).append(
            {"epoch": epoch + 1, "kind": kind, "message": message})

    def set(self, key, value):
        self.content[key] = value

    def write(self):
        """run.json, whole or not at all (WriteError in words)."""
        files.write_json(self.path, self.content)

    def finish(self, finished):
        """The last status of an invocation that ran to its end: "finished"
        at --epochs, "stopped" at --stop-after's limit."""
        self._set_status("finished" if finished else "stopped")
        self.write()

    def saved(self):
        """checkpoint.pt now holds this content: if the run fails before the
        next one, run.json says what the checkpoint holds."""
        self.checkpointed = copy.deepcopy(self.content)

    def end_early(self, status):
        """"interrupted" or "failed", written if it can be (the folder may be
        what failed), as of the last checkpoint."""
        if self.checkpointed is not None:
            self.content = self.checkpointed
        self._set_status(status)
        try:
            self.write()
        except UserError:
            pass

    def _set_status(self, status):
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is none of {STATUSES}")
        self.content["status"] = status
