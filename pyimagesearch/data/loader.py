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
    """

    def __init__(self, dataset, batch_size, device, transform=to_pixels, generator=None,
                 shard=(0, 1), memoryFormat=torch.contiguous_format):
        self.dataset, self.batchSize, self.transform = dataset, batch_size, transform
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
        order = torch.randperm(len(self.images), generator=self.generator)
        for index in order.split(self.batchSize * self.worldSize):
            if len(index) < self.worldSize:     # too few left to give every process one
                break
            self.lastBatchImages = len(index)
            index = index[self.rank::self.worldSize].to(self.images.device)
            x = self.transform(self.images[index])             # (bs, C, S, S) in [-1, 1]
            yield x.contiguous(memory_format=self.memoryFormat), self.labels[index]

