"""What the training changes and checkpoint.pt keeps of it: the article's G
and D, their Adam optimizers, --ema's average of G, and the montages' fixed
noise, held together from `start` on: wired for the device and the options
(wiring.py), restored from and saved to the checkpoint (resume.py)."""

from . import wiring
from .resume import save_checkpoint


class TrainedModels:
    """`gen`, `disc` and their optimizers `genOpt`, `discOpt` as the script
    built them, in the device's memory layout; `ema` the GeneratorEMA of
    `gen` (None when `decay` is 0); `benchmarkNoise` the montages' noise."""

    def __init__(self, gen, disc, genOpt, discOpt, benchmarkNoise, device, decay):
        self.gen, self.disc, self.genOpt, self.discOpt = gen, disc, genOpt, discOpt
        wiring.lay_out(gen, disc, device)
        self.ema = wiring.average_of(gen, decay)
        self.benchmarkNoise, self.device = benchmarkNoise, device

    def restore(self, resume, streams, rank):
        """Everything as `resume`'s checkpoint left it (the random streams
        of process `rank` too), its benchmark noise on the device."""
        self.benchmarkNoise = resume.restore(self.gen, self.disc, self.genOpt, self.discOpt,
                                             self.ema, streams, rank).to(self.device)

    def to_train(self, ctx, amp, compile):
        """(G, D, the noise) for the article's loop: each Adam step on the
        gradients averaged over `ctx`'s processes, the EMA following G's
        steps, and G and D in their --amp / --compile wrappers (or
        themselves)."""
        wiring.hook_steps(self.gen, self.genOpt, self.discOpt, self.ema, ctx)
        return (*wiring.modules_to_train(self.gen, self.disc, self.device.type, amp, compile,
                                         self.discOpt),
                self.benchmarkNoise)

    def to_draw(self):
        """The generator the montages show: the averaged one with --ema."""
        return self.gen if self.ema is None else self.ema.recalibrate()

    def save(self, path, epoch, history, rng, record, dataDir):
        """checkpoint.pt after epoch `epoch` (0-based): save_checkpoint's."""
        save_checkpoint(path, epoch, self.gen, self.disc, self.genOpt, self.discOpt, self.ema,
                        self.benchmarkNoise, history, rng, record, dataDir)
