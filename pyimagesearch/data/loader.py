"""Shuffled batches on the training device, as the article's DataLoader
gives them."""

import torch

from .imageset import to_pixels


class DeviceLoader:
    """Shuffled batches of an ImageSet, as the article's
    `DataLoader(data, shuffle=True, batch_size=...)` yields them: tuples
    (images (bs, C, S, S) in [-1, 1], labels (bs,)), the last batch
    possibly short. The uint8 images wait on `device` as one tensor, and
    each batch is cut from it and normalised there: nothing is copied per
    batch, no worker processes.

    generator: the random stream of the shuffling (its state is saved for an
    exact resume). shard (rank, worldSize): under torch.distributed, every
    process takes its share of each batch of batch_size x worldSize images
    of one common permutation. memoryFormat: the layout of the batches.
    balanced: every batch holds each class in its share of the data, to
    within one image (`balanced_order`), instead of a plain shuffle's mix.
    """

    def __init__(self, dataset, batch_size, device, transform=to_pixels, generator=None,
                 shard=(0, 1), memoryFormat=torch.contiguous_format, balanced=False):
        self.dataset, self.batchSize, self.transform = dataset, batch_size, transform
        self.balanced = balanced
        self.images = dataset.images.to(device)          # (N, C, S, S) uint8
        self.labels = dataset.labels.to(device)
        self.generator = generator
        self.rank, self.worldSize = shard
        self.memoryFormat = memoryFormat
        self.lastBatchImages = 0       # images of the last batch, over all processes

    def __len__(self):
        """Batches an epoch (steps, each on every process)."""
        full, rest = divmod(len(self.images), self.batchSize * self.worldSize)
        return full + (rest >= self.worldSize)

    def __iter__(self):
        if self.balanced:
            order = balanced_order(self.dataset.labels, self.generator)
        else:
            order = torch.randperm(len(self.images), generator=self.generator)
        for index in order.split(self.batchSize * self.worldSize):
            if len(index) < self.worldSize:     # too few left to give every process one
                break
            self.lastBatchImages = len(index)
            # this process's share: a stride of a plain shuffle's batch, but a
            # stretch of a balanced one (a stride of it can hold one class only)
            index = (index.tensor_split(self.worldSize)[self.rank] if self.balanced
                     else index[self.rank::self.worldSize]).to(self.images.device)
            x = self.transform(self.images[index])             # (bs, C, S, S) in [-1, 1]
            yield x.contiguous(memory_format=self.memoryFormat), self.labels[index]


def balanced_order(labels, generator=None):
    """A random order of the images whose every stretch holds each class in
    its share of the data (--balanced-batches): each class's images in a
    random order, spread evenly over the epoch from a random start, so any
    batch of b images holds b x share of a class, rounded up or down (on
    MNIST 12 to 14 of each digit in 128, where a plain shuffle gives 5 to
    21). labels: (N,) class indices; draws from `generator`."""
    order = torch.randperm(len(labels), generator=generator)
    shuffled = labels.cpu()[order].long()
    counts = torch.bincount(shuffled)
    byClass = torch.argsort(shuffled, stable=True)
    firsts = torch.cumsum(counts, 0) - counts             # where each class starts in byClass
    rank = torch.empty_like(byClass)                      # each image's place in its class
    rank[byClass] = torch.arange(len(shuffled)) - firsts[shuffled[byClass]]
    start = torch.rand(len(counts), generator=generator, dtype=torch.float64)
    key = (rank + start[shuffled]) / counts[shuffled]
    return order[torch.argsort(key, stable=True)]
