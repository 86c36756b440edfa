"""The two views of the training data, cut into batches without per-sample Python.

Pair tensors are moved to the training device once; an epoch's permutation is
drawn on the CPU (so every device sees the same order) and moved once.

An epoch is one random permutation (seeded by ``seed`` and the epoch number, so a
resumed run sees the same order) sliced into contiguous batches. Under
distributed training each rank keeps every ``world``-th element of the same
permutation: the ranks see disjoint shards that together cover the epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from embrec.data.ratings import Ratings


def epoch_permutation(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """The shard of epoch ``epoch``'s permutation of ``range(n)`` that ``rank`` trains on."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator)[rank::world]


class PairBatches:
    """(users, items, ratings) batches of a rating table held as tensors."""

    def __init__(self, ratings: Ratings, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 device: torch.device | None = None):
        tensors = {k: v.to(device or "cpu") for k, v in ratings.to_tensors().items()}
        self.users, self.items, self.values = tensors["users"], tensors["items"], tensors["values"]
        self.batch_size = batch_size
        self.seed, self.rank, self.world = seed, rank, world

    def __len__(self) -> int:
        shard = -(-len(self.values) // self.world)
        return -(-shard // self.batch_size)

    @property
    def n_examples(self) -> int:
        return -(-len(self.values) // self.world)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        order = epoch_permutation(len(self.values), self.seed, epoch, self.rank, self.world)
        order = order.to(self.values.device)
        users, items, values = self.users[order], self.items[order], self.values[order]
        for start in range(0, len(order), self.batch_size):
            stop = start + self.batch_size
            yield users[start:stop], items[start:stop], values[start:stop]


class RowBatches:
    """Dense batches of rows of the sparse rating matrix, with the mask of observed entries.

    Only rows with at least one rating are trained on. The matrix stays sparse;
    each batch is densified on its own, so memory grows with the batch, not the
    matrix.
    """

    def __init__(
        self, ratings: Ratings, orientation: str, batch_size: int, seed: int,
        rank: int = 0, world: int = 1, device: torch.device | None = None,
    ):
        self.device = device or torch.device("cpu")
        self.matrix = ratings.to_csr(by=orientation)
        self.rows = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.batch_size = batch_size
        self.seed, self.rank, self.world = seed, rank, world
        self.n_observed = len(ratings)

    def __len__(self) -> int:
        shard = -(-len(self.rows) // self.world)
        return -(-shard // self.batch_size)

    @property
    def n_examples(self) -> int:
        return -(-self.n_observed // self.world)

    def dense(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Ratings and observed-mask of ``rows`` as dense float32 tensors."""
        block = self.matrix[rows]
        values = block.toarray()
        mask = np.zeros_like(values)
        row_of_entry = np.repeat(np.arange(len(rows)), np.diff(block.indptr))
        mask[row_of_entry, block.indices] = 1.0
        return (torch.from_numpy(values).to(self.device, non_blocking=True),
                torch.from_numpy(mask).to(self.device, non_blocking=True))

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = epoch_permutation(len(self.rows), self.seed, epoch, self.rank, self.world).numpy()
        shuffled = self.rows[order]
        for start in range(0, len(shuffled), self.batch_size):
            yield self.dense(shuffled[start : start + self.batch_size])
