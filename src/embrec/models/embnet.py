"""An embedding network: concatenated user and item embeddings through an MLP.

    x = [p_u ; q_i]                        (dropout p_emb on x)
    h_1 = dropout(ReLU(W_1 x + c_1))       ... for each hidden layer
    r̂(u, i) = lo + (hi - lo) · σ(w · h_L + c + b_u + b_i + g_u · g_i)

The design of fastai's ``EmbeddingNN`` (fastbook chapter 8) and of the
"embedding network" of the Keras collaborative-filtering notebooks. With
``biases`` (the default) a user and an item bias are added before the sigmoid:
the "wide" part of Wide & Deep (Cheng et al. 2016), which lets the MLP spend
its capacity on the interaction instead of relearning popularity;
``biases=False`` is the plain network. With ``dot_factors`` > 0 a dot product
of separate user and item embeddings g_u, g_i is added too: the GMF path of
NeuMF (He et al., "Neural Collaborative Filtering", WWW 2017). The MLP alone
learns multiplicative user-item interactions slowly (fastai's ``EmbeddingNN``
ends near 0.939 RMSE on ml-100k's folds), and sharing one embedding between
both paths pulls it two ways, hence separate tables. ``dot_factors=0`` with
``biases=False`` is the design of fastai's ``EmbeddingNN`` (which also
batch-normalises its hidden layers). Embedding sizes default
to fastai's rule of thumb ``min(600, round(1.6 · n^0.56))``.

``factors`` sets both embedding widths (``user_factors`` and ``item_factors``).

Training defaults (torch solver): 5 epochs, AdamW at lr 5e-3 with weight decay
1.0, batches of 1,024, one-cycle. From ``LARGE_TABLE_ROWS`` (20,000) user plus
item rows on, on the CPU, the embedding tables are trained by ``lazy-adam``
instead (row-sparse: :mod:`embrec.training.row_sparse`), the rest of the network
by AdamW as before. Dense AdamW reads and writes every row of every table and
its moments on every step, so a step costs in proportion to the tables, not the
batch: on 1M ratings of 53,727 x 8,108 (the users and items of 10M ratings;
widths 600 and 247), one thread, AdamW's update was 82 % of a step, and an epoch
took 399 s (2,511 ratings/s) against 21 s (47,891 ratings/s) with ``lazy-adam``
(``benchmarks/scale.py embnet``, ``docs/scale.md``, medians of 3, load average
2.5-3.4 on 2 cores). Below the threshold the tables are small, dense AdamW is as
fast (ml-100k u1: 0.58 s an epoch) and a little more accurate (ml-100k u1 test
RMSE 0.9179 against 0.9185 with ``lazy-adam``; ml-latest-small, random 10 %:
0.8350 against 0.8385), so small data keeps it, as does a GPU (a fused AdamW;
``lazy-adam`` runs on the CPU only). At the large shape batches of 4,096 were no
faster, row-wise Adagrad 6 % faster (at another rate), a user table 256 wide
1.36x faster: its accuracy on real data of that size is not measured yet
(``docs/scale.md``).

Fold-in: MAP user parameters through the frozen network
(:mod:`embrec.models.embnet_foldin`). Item space: the item embeddings ``q_i``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import field_validator
from torch import nn

from embrec.device import cuda_visible
from embrec.models.base import DataShape, PairModel, rows, sigmoid_range
from embrec.models.embnet_foldin import EmbeddingNetFoldIn
from embrec.models.item_space import item_embeddings
from embrec.models.search_space import ANY_SOLVER, Dimension, integer
from embrec.models.spec import ModelConfig, ModelSpec, YRange, parse_layers, resolve_y_range


def embedding_size_rule(n_categories: int) -> int:
    """fastai's rule of thumb for an embedding's width: ``min(600, round(1.6 · n^0.56))``."""
    return int(min(600, round(1.6 * n_categories**0.56)))


LARGE_TABLE_ROWS = 20_000
"""User plus item rows from which embnet's tables train with ``lazy-adam`` by default.

ml-100k (2,625 rows), ml-1m (9,746) and ml-latest-small (10,334) stay below it.
"""


def sized_training_defaults(n_users: int, n_items: int, device: str) -> dict[str, Any]:
    """optimizer lazy-adam from 20,000 user plus item rows, on the CPU.

    The torch solver's defaults for tables of ``n_users`` and ``n_items`` rows
    (``LARGE_TABLE_ROWS``). On a GPU dense AdamW stays: its update is one fused kernel there, and
    ``lazy-adam``'s kernels run on the CPU only.
    """
    on_cpu = device == "cpu" or (device == "auto" and not cuda_visible())
    if on_cpu and n_users + n_items >= LARGE_TABLE_ROWS:
        return {"optimizer": "lazy-adam"}
    return {}


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
        biases: bool = True,
        dot_factors: int = 0,
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
        self.user_bias = self.item_bias = None
        if biases:
            self.user_bias = nn.Embedding(shape.n_users, 1, sparse=sparse)
            self.item_bias = nn.Embedding(shape.n_items, 1, sparse=sparse)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
        self.user_dot = self.item_dot = None
        if dot_factors:
            self.user_dot = nn.Embedding(shape.n_users, dot_factors, sparse=sparse)
            self.item_dot = nn.Embedding(shape.n_items, dot_factors, sparse=sparse)
            nn.init.normal_(self.user_dot.weight, std=0.01)
            nn.init.normal_(self.item_dot.weight, std=0.01)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = torch.cat([rows(self.user_factors, users), rows(self.item_factors, items)], dim=1)
        z = self.mlp(self.emb_dropout(x)).squeeze(1)
        if self.user_bias is not None:
            z = z + rows(self.user_bias, users).squeeze(1) + rows(self.item_bias, items).squeeze(1)
        if self.user_dot is not None:
            z = z + (rows(self.user_dot, users) * rows(self.item_dot, items)).sum(dim=1)
        return sigmoid_range(z, *self.y_range)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        user_rows, item_rows = rows(self.user_factors, users), rows(self.item_factors, items)
        total = user_rows.pow(2).sum() + item_rows.pow(2).sum()
        if self.user_dot is not None:
            total = total + rows(self.user_dot, users).pow(2).sum()
            total = total + rows(self.item_dot, items).pow(2).sum()
        return total

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        """Every item for each user, computing the item half of the first layer once."""
        first = self.mlp[0]
        k_user = self.user_factors.embedding_dim
        user_part = rows(self.user_factors, users) @ first.weight[:, :k_user].T
        item_part = self.item_factors.weight @ first.weight[:, k_user:].T + first.bias
        hidden = torch.relu(user_part[:, None, :] + item_part[None, :, :])
        z = self.mlp[3:](hidden).squeeze(-1)
        if self.user_bias is not None:
            z = z + rows(self.user_bias, users) + self.item_bias.weight.T
        if self.user_dot is not None:
            z = z + rows(self.user_dot, users) @ self.item_dot.weight.T
        return sigmoid_range(z, *self.y_range)


class EmbNetConfig(ModelConfig):
    expands: ClassVar[dict[str, tuple[str, ...]]] = {"factors": ("user_factors", "item_factors")}

    user_factors: int | None = None
    item_factors: int | None = None
    layers: tuple[int, ...] = (100, 50)
    dropout: float = 0.3
    emb_dropout: float = 0.05
    y_range: YRange = "auto"
    biases: bool = True
    dot_factors: int = 32

    @field_validator("layers", mode="before")
    @classmethod
    def _parse_layers(cls, value: Any) -> Any:
        return parse_layers(value)


def build(c: EmbNetConfig, s: DataShape, sparse: bool) -> EmbeddingNet:
    return EmbeddingNet(
        s, c.user_factors, c.item_factors, c.layers, c.dropout, c.emb_dropout,
        resolve_y_range(c.y_range, s) or (s.rating_low - 0.5, s.rating_high + 0.5),
        sparse, c.biases, c.dot_factors,
    )


SPEC = ModelSpec(
    "embnet",
    "concatenated embeddings into an MLP with dropout, sigmoid into y_range",
    EmbNetConfig,
    build,
    item_space=item_embeddings,
    fold_in=EmbeddingNetFoldIn,
    reg_option={"torch": "weight_decay"},
    train_defaults={"epochs": 5, "lr": 5e-3, "weight_decay": 1.0, "batch_size": 1024},
    sized_defaults={"torch": sized_training_defaults},
    search_space={ANY_SOLVER: (
        Dimension("weight_decay", 0.2, 3.0),
        Dimension("lr", 1e-3, 2e-2),
        Dimension("dropout", 0.1, 0.5, log=False),
        integer("epochs", 3, 12),
    )},
)
