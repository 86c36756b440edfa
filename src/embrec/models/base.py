"""What every embrec network is: a plain ``torch.nn.Module`` over index tensors.

Two kinds of network exist, told apart by the view of the data they train on:

* :class:`PairModel` maps a batch of ``(user, item)`` index pairs to predicted
  ratings. Matrix factorisation and embedding networks are pair models.
* :class:`RowModel` maps a batch of rows of the rating matrix (a user's ratings
  of every item, or an item's ratings by every user) to a reconstruction of the
  same rows. Autoencoders are row models; ``orientation`` says which rows.

A network of a third view, ``members``, combines the outputs of member networks
of either kind (the blend, :mod:`embrec.models.blend`); the predictor asks the
members.

Training, prediction, IO and id mapping live outside the networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class DataShape:
    """What a network needs to know about the data to be built."""

    n_users: int
    n_items: int
    global_mean: float
    rating_low: float
    rating_high: float


class PairModel(nn.Module):
    """Predicts the rating of each ``(users[b], items[b])`` pair."""

    view: ClassVar[str] = "pairs"

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Sum of squares of the parameters a batch used (for L2 on used embeddings)."""
        return torch.zeros(())

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        """Predicted ratings of every item for each user: ``(len(users), n_items)``."""
        n_items = self.n_items
        grid_users = users.repeat_interleave(n_items)
        grid_items = torch.arange(n_items, device=users.device).repeat(len(users))
        return self.forward(grid_users, grid_items).view(len(users), n_items)


class RowModel(nn.Module):
    """Reconstructs rows of the rating matrix; unobserved entries are zeros on input."""

    view: ClassVar[str] = "rows"
    orientation: str = "user"

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self) -> torch.Tensor:
        """The L2 term of the model's objective (zero when weight decay does the job)."""
        return torch.zeros(())


def rows(table: nn.Embedding, indices: torch.Tensor) -> torch.Tensor:
    """Rows ``indices`` of an embedding table.

    Dense tables gather with ``index_select``, whose backward (``index_add_``)
    is several times faster on CPU than the embedding's own; sparse tables keep
    the embedding call so that their gradient stays row-sparse.
    """
    return table(indices) if table.sparse else table.weight.index_select(0, indices)


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squash ``x`` into ``(low, high)``: ``low + (high - low) * sigmoid(x)``."""
    return torch.sigmoid(x) * (high - low) + low


class PublishedDotBias(PairModel):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i`` from tables a solver computes and publishes.

    The network of a model fitted outside the training loop's gradient steps (the
    Bayesian FM's posterior mean, the ``fm``'s pooled feature tables): frozen tables,
    zeros until the solver copies its result in.
    """

    def __init__(self, shape: DataShape, width: int) -> None:
        super().__init__()
        self.n_items = shape.n_items
        self.y_range = None
        self.user_factors = nn.Embedding(shape.n_users, width)
        self.item_factors = nn.Embedding(shape.n_items, width)
        self.user_bias = nn.Embedding(shape.n_users, 1)
        self.item_bias = nn.Embedding(shape.n_items, 1)
        for table in (self.user_factors, self.item_factors, self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
            table.weight.requires_grad_(False)
        self.register_buffer("global_bias", torch.tensor(float(shape.global_mean)))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (
            (rows(self.user_factors, users) * rows(self.item_factors, items)).sum(dim=1)
            + rows(self.user_bias, users).squeeze(1)
            + rows(self.item_bias, items).squeeze(1)
            + self.global_bias
        )

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        return (
            rows(self.user_factors, users) @ self.item_factors.weight.T
            + rows(self.user_bias, users)
            + self.item_bias.weight.T
            + self.global_bias
        )
