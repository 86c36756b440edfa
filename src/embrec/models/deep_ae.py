"""A deep user-based autoencoder with dropout, over users' rating rows.

Kuchaiev & Ginsburg, "Training Deep AutoEncoders for Collaborative Filtering"
(NVIDIA, 2017), the 512-256-64 variant of the Netflix write-ups::

    encoder:  x → ReLU(W_1 x) → ReLU(W_2 ·) → ReLU(W_3 ·)     (512, 256, 64)
    code:     dropout(p)                                     (dropout as noise)
    decoder:  mirrored (64 → 256 → 512 → n_items), identity output

    loss = Σ_observed (x - x̂)² / #observed        (masked MSE)

A new user is answered by one forward pass of their rating row
(:class:`~embrec.models.foldin.RowFoldIn`). Item space: the item's row of the
last decoder layer, ``W[i, :]``: the output for item ``i`` is ``W[i, :] · h + c_i``,
so two items with close rows get close predictions from every user's code ``h``.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import field_validator
from torch import nn

from embrec.models.base import DataShape, RowModel
from embrec.models.foldin import RowFoldIn
from embrec.models.item_space import ItemSpace
from embrec.models.search_space import ANY_SOLVER, Dimension, integer
from embrec.models.spec import ModelConfig, ModelSpec, parse_layers
from embrec.models.trained import TrainedNetwork


class DeepAutoEncoder(RowModel):
    """Encoder ``layers`` with ReLU, dropout on the code, mirrored decoder."""

    orientation = "user"

    def __init__(
        self,
        shape: DataShape,
        layers: tuple[int, ...] = (512, 256, 64),
        dropout: float = 0.1,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [shape.n_items, *layers]
        encoder: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        for a, b in zip(widths[:-1], widths[1:]):
            encoder += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder)
        self.code_dropout = nn.Dropout(dropout)
        decoder: list[nn.Module] = []
        reverse = widths[::-1]
        for index, (a, b) in enumerate(zip(reverse[:-1], reverse[1:])):
            decoder.append(nn.Linear(a, b))
            if index < len(reverse) - 2:
                decoder.append(nn.ReLU())
        self.decoder = nn.Sequential(*decoder)
        with torch.no_grad():
            self.decoder[-1].bias.fill_(shape.global_mean)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.code_dropout(self.encoder(rows)))


class DeepAEConfig(ModelConfig):
    """Dropout on the code and on the input rows (denoising): with both at 0.5 and
    weight decay 1e-3 the ml-100k u1..u5 mean is 0.954 (0.996 with 0.1 / 0 / 1e-5),
    and a row of only 5-20 ratings, as a new user's, stops being unlike training."""

    layers: tuple[int, ...] = (512, 256, 64)
    dropout: float = 0.5
    input_dropout: float = 0.5

    @field_validator("layers", mode="before")
    @classmethod
    def _parse_layers(cls, value: Any) -> Any:
        return parse_layers(value)


def decoder_item_space(model: TrainedNetwork) -> ItemSpace:
    """The last decoder layer's item rows ``W[i, :]`` (module docstring)."""
    weights = model.module.decoder[-1].weight.detach().numpy()
    return ItemSpace(weights, "deep-ae last decoder layer item weights")


SPEC = ModelSpec(
    "deep-ae",
    "deep user autoencoder 512-256-64 with dropout (Kuchaiev & Ginsburg 2017)",
    DeepAEConfig,
    lambda c, s, sparse: DeepAutoEncoder(s, c.layers, c.dropout, c.input_dropout),
    item_space=decoder_item_space,
    fold_in=RowFoldIn,
    reg_option={"torch": "weight_decay"},
    train_defaults={"epochs": 30, "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 128,
                    "schedule": "constant"},
    search_space={ANY_SOLVER: (
        Dimension("dropout", 0.2, 0.7, log=False),
        Dimension("input_dropout", 0.2, 0.7, log=False),
        Dimension("weight_decay", 1e-4, 1e-2),
        Dimension("lr", 3e-4, 3e-3),
        integer("epochs", 15, 60),
    )},
)
