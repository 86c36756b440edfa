"""An embedding network: concatenated user and item embeddings through an MLP.

    x = [p_u ; q_i]                        (dropout p_emb on x)
    h_1 = dropout(ReLU(W_1 x + c_1))       ... for each hidden layer
    r̂(u, i) = lo + (hi - lo) · σ(w · h_L + c)

The design of fastai's ``EmbeddingNN`` (fastbook chapter 8) and of the
"embedding network" of the Keras collaborative-filtering notebooks. Embedding
sizes default to fastai's rule of thumb ``min(600, round(1.6 · n^0.56))``.
"""

from __future__ import annotations

import torch
from torch import nn

from embrec.models.base import DataShape, PairModel, rows, sigmoid_range


def embedding_size_rule(n_categories: int) -> int:
    """fastai's rule of thumb for an embedding's width: ``min(600, round(1.6 · n^0.56))``."""
    return int(min(600, round(1.6 * n_categories**0.56)))


class EmbeddingNet(PairModel):
    """User and item embeddings concatenated into an MLP with a sigmoid output range."""

    def __init__(
        self,
        shape: DataShape,
        user_factors: int | None = None,
        item_factors: int | None = None,
        layers: tuple[int, ...] = (100, 50),
        dropout: float = 0.3,
        emb_dropout: float = 0.05,
        y_range: tuple[float, float] = (0.5, 5.5),
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.n_items = shape.n_items
        self.y_range = y_range
        user_factors = user_factors or embedding_size_rule(shape.n_users)
        item_factors = item_factors or embedding_size_rule(shape.n_items)
        self.user_factors = nn.Embedding(shape.n_users, user_factors, sparse=sparse)
        self.item_factors = nn.Embedding(shape.n_items, item_factors, sparse=sparse)
        nn.init.normal_(self.user_factors.weight, std=0.01)
        nn.init.normal_(self.item_factors.weight, std=0.01)
        self.emb_dropout = nn.Dropout(emb_dropout)
        blocks: list[nn.Module] = []
        width = user_factors + item_factors
        for hidden in layers:
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*blocks)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = torch.cat([rows(self.user_factors, users), rows(self.item_factors, items)], dim=1)
        z = self.mlp(self.emb_dropout(x)).squeeze(1)
        return sigmoid_range(z, *self.y_range)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        user_rows, item_rows = rows(self.user_factors, users), rows(self.item_factors, items)
        return user_rows.pow(2).sum() + item_rows.pow(2).sum()

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        """Every item for each user, computing the item half of the first layer once."""
        first = self.mlp[0]
        k_user = self.user_factors.embedding_dim
        user_part = rows(self.user_factors, users) @ first.weight[:, :k_user].T
        item_part = self.item_factors.weight @ first.weight[:, k_user:].T + first.bias
        hidden = torch.relu(user_part[:, None, :] + item_part[None, :, :])
        z = self.mlp[3:](hidden).squeeze(-1)
        return sigmoid_range(z, *self.y_range)
