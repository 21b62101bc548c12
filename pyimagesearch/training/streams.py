"""Every random stream the training draws from, seeded, saved and restored,
so that a run can be repeated and resumed exactly."""

import torch

from ..cli import MAX_SEED


class RandomStreams:
    """torch's global stream (the weights, the benchmark noise) seeded with
    `seed`, and two streams of their own: the training noise (`noise`, one
    per process: seed + rank) and the shuffling (`shuffle`, the same in
    every process: each takes its share of one permutation); with
    augment=True a third, for a training recipe's augmentations (one per
    process, after the noise's: seed + worldSize + rank); with classes=True
    (--conditional) one for the classes of the fakes (seed + 2 worldSize +
    rank)."""

    def __init__(self, seed, rank, device, augment=False, worldSize=1, classes=False):
        torch.manual_seed(seed)
        self.device = device
        self.noise = torch.Generator(device=device).manual_seed((seed + rank) % (MAX_SEED + 1))
        self.shuffle = torch.Generator().manual_seed(seed)
        self.augment = self.classes = None
        if augment:
            self.augment = torch.Generator(device=device).manual_seed(
                (seed + worldSize + rank) % (MAX_SEED + 1))
        if classes:
            self.classes = torch.Generator(device=device).manual_seed(
                (seed + 2 * worldSize + rank) % (MAX_SEED + 1))

    def fake_classes(self, realClasses, numClasses, asReal=False):
        """--conditional: (a class for each fake, drawn uniformly from the
        `classes` stream, or with asReal (--balanced-batches) the real
        batch's classes; the real images' classes, then the fakes', as D
        sees them in one pass)."""
        if asReal:
            fakeClasses = realClasses.clone()
        else:
            fakeClasses = torch.randint(numClasses, realClasses.shape, device=self.device,
                                        generator=self.classes)
        return fakeClasses, torch.cat((realClasses, fakeClasses))

    def capture(self):
        """Every random state the training loop draws from."""
        state = {"torch": torch.get_rng_state(), "noise": self.noise.get_state(),
                 "shuffle": self.shuffle.get_state()}
        if self.augment is not None:
            state["augment"] = self.augment.get_state()
        if self.classes is not None:
            state["classes"] = self.classes.get_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def restore(self, state):
        """Put back what `capture` gave."""
        torch.set_rng_state(state["torch"])
        self.noise.set_state(state["noise"])
        self.shuffle.set_state(state["shuffle"])
        if self.augment is not None and "augment" in state:
            self.augment.set_state(state["augment"])
        if self.classes is not None and "classes" in state:
            self.classes.set_state(state["classes"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
