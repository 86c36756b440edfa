"""Row-sparse gradients averaged over the ranks of a process group.

An embedding table built with ``sparse=True`` gets, on rank ``r``, a gradient
that lists lookups ``(ids_j, grad_j)``: a row id and that row's gradient, a row
possibly listed many times. The mean gradient over ``W`` ranks is the list of
every rank's lookups with the values divided by ``W``::

    ḡ = (1/W) Σ_r g_r  =  concat_r (ids_r, grad_r / W)

and the row-sparse optimisers sum a row's lookups wherever they came from, as
they sum the repeated rows of one rank's batch
(:mod:`embrec.training.row_kernels`; ``torch.optim.SparseAdam`` coalesces).
Each rank's lookup count ``n_r`` is gathered first; the ids and values are then
padded to ``max_r n_r``, gathered (an all-gather wants equal shapes) and cut
back to ``n_r`` each. Three all-gathers per table and step, of CPU tensors: the
exchange runs on gloo, which gathers host memory only, and a GPU gradient is
staged through the host as gloo's own sparse all-reduce would.

The ranks exchange their tables in the module's order, every rank every table,
so no rank waits on an exchange another skips: a rank whose batch left a table
untouched sends no lookups.

DDP is told to ignore these tables (:meth:`RowSparseSync.ignored_names`), so it
averages the dense weights alone; the tables start equal because
:meth:`RowSparseSync.broadcast` copies rank 0's into every rank, as DDP does
for the weights it keeps.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from embrec.training.optim import sparse_parameters


def sparse_tables(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, weight)`` of every embedding table built with ``sparse=True``, in module order."""
    sparse = sparse_parameters(module)
    return [(name, weight) for name, weight in module.named_parameters() if id(weight) in sparse]


def gathered(tensor: torch.Tensor, world: int) -> list[torch.Tensor]:
    """Every rank's ``tensor`` (a CPU tensor of the same shape on every rank), in rank order."""
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor)
    return parts


def mean_over_ranks(grad: torch.Tensor | None, table: nn.Parameter, world: int) -> torch.Tensor:
    """The mean over the ``world`` ranks of a table's row-sparse gradient (see the module doc).

    ``grad`` is this rank's gradient of ``table``, or None when its batch left
    the table untouched. The result lists every rank's lookups, uncoalesced, on
    the table's device.
    """
    width = table.shape[1:].numel()
    if grad is None:
        ids = torch.empty(0, dtype=torch.int64)
        values = torch.empty((0, width), dtype=table.dtype)
    else:
        ids = grad._indices()[0].cpu()
        values = grad._values().reshape(len(ids), width).cpu()
    counts = [int(c) for c in gathered(torch.tensor([len(ids)]), world)]
    longest = max(counts)
    padded_ids = torch.zeros(longest, dtype=torch.int64)
    padded_ids[: len(ids)] = ids
    padded_values = torch.zeros((longest, width), dtype=values.dtype)
    padded_values[: len(ids)] = values
    all_ids = torch.cat([part[:n] for part, n in zip(gathered(padded_ids, world), counts)])
    all_values = torch.cat([part[:n] for part, n in zip(gathered(padded_values, world), counts)])
    all_values = (all_values / world).reshape(len(all_ids), *table.shape[1:])
    return torch.sparse_coo_tensor(
        all_ids.unsqueeze(0), all_values, table.shape, is_coalesced=False
    ).to(table.device)


class RowSparseSync:
    """Averages the row-sparse gradients of a module's ``sparse=True`` tables over the ranks."""

    def __init__(self, module: nn.Module, world: int) -> None:
        self.tables = sparse_tables(module)
        self.world = world

    def ignored_names(self) -> list[str]:
        """The tables' names, for DDP to leave alone."""
        return [name for name, _ in self.tables]

    def broadcast(self) -> None:
        """Rank 0's tables copied into every rank's."""
        with torch.no_grad():
            for _, table in self.tables:
                dist.broadcast(table.data, src=0)

    def __call__(self) -> None:
        """Each table's gradient replaced by its mean over the ranks (after a backward pass)."""
        for _, table in self.tables:
            table.grad = mean_over_ranks(table.grad, table, self.world)
