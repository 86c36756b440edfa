"""AutoRec: an autoencoder over rows of the rating matrix.

Sedhain, Menon, Sanner & Xie, "AutoRec: Autoencoders Meet Collaborative
Filtering" (WWW 2015). For a row r (an item's ratings by all users in I-AutoRec,
a user's ratings of all items in U-AutoRec), with unobserved entries zero::

    h(r) = σ(V r + b)             (hidden width k, default 500)
    r̂ = W h(r) + c                (identity output)

    min  Σ_rows ‖(r - r̂) ⊙ m‖²  +  (λ/2) (‖W‖² + ‖V‖²)

where m masks the observed entries: only they carry loss. The item-based
variant is the paper's better one (ml-1m RMSE 0.831 against 0.874). The
prediction of user u's rating of item i is entry u of item i's reconstruction.
``factors`` is the hidden width k (``hidden`` is its old name), ``reg`` is λ
(``l2`` is its old name).

Fold-in. User-based: a new user is one forward pass of their rating row.
Item-based: the output for user u on item i is ``W_u · h_i + c_u``, linear in
the user's decoder row θ = [W_u; c_u], so a new user is a new decoder row, the
MAP estimate of :mod:`embrec.models.foldin` with ``x_i = [h_i; 1]``, ``o_i = 0``
and the identity link. The new user's ratings do not enter the items' codes:
the encoder has no input weight for a new column, which is the same as a zero
one, so the codes ``h_i`` of the training rows are used as they are.

Item space. User-based: the item's row of the decoder, ``W[i, :]`` (close rows,
close predictions from every user's code). Item-based: the hidden code of the
item's rating row ``h_i = σ(V r_i + b)``, centred on the mean code (sigmoid
codes are all positive, so uncentred they would all look alike).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from embrec.models.base import DataShape, RowModel
from embrec.models.foldin import (
    FoldIn,
    GaussianFoldIn,
    RowFoldIn,
    population_prior,
    training_noise,
)
from embrec.models.item_space import ItemSpace
from embrec.models.search_space import ANY_SOLVER, Dimension, integer
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork


class AutoRec(RowModel):
    """One sigmoid hidden layer, identity output, masked loss on observed entries."""

    def __init__(
        self,
        shape: DataShape,
        hidden: int = 500,
        orientation: str = "item",
        l2: float = 1.0,
    ) -> None:
        super().__init__()
        if orientation not in ("item", "user"):
            raise ValueError(f"orientation must be 'item' or 'user', not {orientation!r}")
        self.orientation = orientation
        self.l2 = l2
        width = shape.n_users if orientation == "item" else shape.n_items
        self.encoder = nn.Linear(width, hidden)
        self.decoder = nn.Linear(hidden, width)
        with torch.no_grad():
            self.decoder.bias.fill_(shape.global_mean)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(rows))

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        """The hidden code ``h(r) = σ(V r + b)`` of each row."""
        return torch.sigmoid(self.encoder(rows))

    def decode(self, codes: torch.Tensor, columns: torch.Tensor | None = None) -> torch.Tensor:
        """Entries ``columns`` (all when None) of the reconstructions ``W h + c`` of ``codes``."""
        if columns is None:
            return self.decoder(codes)
        weight = self.decoder.weight.index_select(0, columns)
        return torch.addmm(self.decoder.bias.index_select(0, columns), codes, weight.T)

    def penalty(self) -> torch.Tensor:
        return 0.5 * self.l2 * (self.encoder.weight.pow(2).sum() + self.decoder.weight.pow(2).sum())


class AutoRecConfig(ModelConfig):
    """``reg = 200`` with a cosine-annealed 60 epochs: ml-100k u1..u5 mean RMSE 0.898."""

    renamed: ClassVar[dict[str, str]] = {"hidden": "factors", "l2": "reg"}

    factors: int = 500
    orientation: Literal["item", "user"] = "item"
    reg: float = 200.0

    @property
    def hidden(self) -> int:
        """The old name of ``factors``."""
        return self.factors

    @property
    def l2(self) -> float:
        """The old name of ``reg``."""
        return self.reg


@torch.no_grad()
def item_codes(model: TrainedNetwork) -> np.ndarray:
    """Hidden codes ``σ(V r_i + b)`` of every item row of an item-based AutoRec ``(n_items, k)``.

    Computed by the model's predictor on its scoring device, once.
    """
    return model.predictor.item_codes().cpu().numpy()


def autorec_fold_in(model: TrainedNetwork) -> FoldIn:
    """A forward pass of the row (user-based), or a new decoder row (item-based)."""
    if model.module.orientation == "user":
        return RowFoldIn(model)
    decoder = model.module.decoder
    codes = item_codes(model)
    features = np.hstack([codes, np.ones((len(codes), 1), dtype=codes.dtype)])
    users = np.hstack(
        [decoder.weight.detach().numpy(), decoder.bias.detach().numpy()[:, None]]
    )
    mean, cov = population_prior(model, users)
    return GaussianFoldIn(
        features, np.zeros(len(features)), mean, cov, training_noise(model), None,
        "fold-in: MAP decoder row on the items' hidden codes (autorec, item-based)",
    )


def autorec_item_space(model: TrainedNetwork) -> ItemSpace:
    """Decoder item rows (user-based) or centred item codes (item-based)."""
    if model.module.orientation == "user":
        weights = model.module.decoder.weight.detach().numpy()
        return ItemSpace(weights, "autorec decoder item weights")
    codes = item_codes(model)
    return ItemSpace(codes - codes.mean(axis=0), "autorec hidden codes of the item rows")


SPEC = ModelSpec(
    "autorec",
    "AutoRec (Sedhain et al. 2015): one sigmoid hidden layer over matrix rows",
    AutoRecConfig,
    lambda c, s, sparse: AutoRec(s, c.factors, c.orientation, c.reg),
    item_space=autorec_item_space,
    fold_in=autorec_fold_in,
    train_defaults={"epochs": 60, "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64,
                    "schedule": "cosine"},
    search_space={ANY_SOLVER: (
        integer("factors", 200, 1000, log=True),
        Dimension("reg", 50.0, 800.0),
        Dimension("lr", 3e-4, 3e-3),
        integer("epochs", 20, 90),
    )},
)
