"""The two views of the training data, cut into batches on the training device.

Everything an epoch touches lives on the device from the start: the rating
tensors of pair models, the CSR arrays of row models. An epoch is one random
permutation drawn there (seeded by ``seed`` and the epoch number, so a resumed
run sees the same order; the CPU and CUDA generators draw different orders from
the same seed) and sliced into contiguous batches. No batch waits for the
device: a row batch is densified there, and the sizes it needs are read once
per epoch.

Under distributed training each rank keeps every ``world``-th element of the
same permutation: the ranks see disjoint shards that together cover the epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from embrec.data.ratings import Ratings


def epoch_permutation(
    n: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The shard of epoch ``epoch``'s permutation of ``range(n)`` that ``rank`` trains on."""
    device = device or torch.device("cpu")
    generator = torch.Generator(device=device).manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator, device=device)[rank::world]


class PairBatches:
    """(users, items, ratings) batches of a rating table held as tensors on the device."""

    def __init__(self, ratings: Ratings, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 device: torch.device | None = None):
        self.device = device or torch.device("cpu")
        tensors = {k: v.to(self.device) for k, v in ratings.to_tensors().items()}
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
        order = epoch_permutation(len(self.values), self.seed, epoch, self.rank, self.world,
                                  self.device)
        users, items, values = self.users[order], self.items[order], self.values[order]
        for start in range(0, len(order), self.batch_size):
            stop = start + self.batch_size
            yield users[start:stop], items[start:stop], values[start:stop]


class RowBatches:
    """Dense batches of rows of the sparse rating matrix, with the mask of observed entries.

    Only rows with at least one rating are trained on. The matrix is held on the
    device as CSR arrays (``indptr``, ``indices``, ``data``); each batch is
    densified there on its own, so memory grows with the batch, not the matrix.
    """

    def __init__(
        self, ratings: Ratings, orientation: str, batch_size: int, seed: int,
        rank: int = 0, world: int = 1, device: torch.device | None = None,
    ):
        self.device = device or torch.device("cpu")
        matrix = ratings.to_csr(by=orientation)
        lengths = np.diff(matrix.indptr)

        def on_device(array: np.ndarray, dtype: np.dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype)).to(self.device)

        self.indptr = on_device(matrix.indptr, np.int64)
        self.indices = on_device(matrix.indices, np.int64)
        self.data = on_device(matrix.data, np.float32)
        self.lengths = on_device(lengths, np.int64)
        self.rows = on_device(np.flatnonzero(lengths > 0), np.int64)
        self.n_columns = matrix.shape[1]
        self.batch_size = batch_size
        self.seed, self.rank, self.world = seed, rank, world
        self.n_observed = len(ratings)

    def __len__(self) -> int:
        shard = -(-len(self.rows) // self.world)
        return -(-shard // self.batch_size)

    @property
    def n_examples(self) -> int:
        return -(-self.n_observed // self.world)

    def dense(self, rows: torch.Tensor, n_entries: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Ratings and observed-mask of ``rows`` (holding ``n_entries`` ratings), dense float32.

        Entry ``e`` of the batch belongs to batch row ``b(e)`` and is entry
        ``e - first(b(e))`` of that row, so its CSR position is
        ``indptr[rows[b(e)]] + e - first(b(e))``; all of it gathered on the device.
        """
        starts = self.indptr[rows]
        lengths = self.lengths[rows]
        batch_row = torch.arange(len(rows), device=self.device)
        row_of_entry = torch.repeat_interleave(batch_row, lengths, output_size=n_entries)
        first = torch.cumsum(lengths, 0) - lengths
        offset = torch.arange(n_entries, device=self.device) - first[row_of_entry]
        entry = starts[row_of_entry] + offset
        columns = self.indices[entry]
        values = torch.zeros(len(rows), self.n_columns, device=self.device)
        mask = torch.zeros_like(values)
        values[row_of_entry, columns] = self.data[entry]
        mask[row_of_entry, columns] = 1.0
        return values, mask

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = epoch_permutation(len(self.rows), self.seed, epoch, self.rank, self.world,
                                  self.device)
        shuffled = self.rows[order]
        starts = range(0, len(shuffled), self.batch_size)
        # The ratings in each batch, summed on the device and read once for the epoch.
        cumulative = torch.cumsum(self.lengths[shuffled], 0)
        last = (torch.arange(1, len(starts) + 1, device=self.device) * self.batch_size
                ).clamp(max=len(shuffled)) - 1
        ends = cumulative[last]
        totals = torch.diff(ends, prepend=ends.new_zeros(1)).tolist()
        for start, total in zip(starts, totals):
            yield self.dense(shuffled[start : start + self.batch_size], int(total))
