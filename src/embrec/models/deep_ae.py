"""A deep user-based autoencoder with dropout, over users' rating rows.

Kuchaiev & Ginsburg, "Training Deep AutoEncoders for Collaborative Filtering"
(NVIDIA, 2017), the 512-256-64 variant of the Netflix write-ups::

    encoder:  x → ReLU(W_1 x) → ReLU(W_2 ·) → ReLU(W_3 ·)     (512, 256, 64)
    code:     dropout(p)                                     (dropout as noise)
    decoder:  mirrored (64 → 256 → 512 → n_items), identity output

    loss = Σ_observed (x - x̂)² / #observed        (masked MSE)

A new user is answered by one forward pass of their rating row.
"""

from __future__ import annotations

import torch
from torch import nn

from embrec.models.base import DataShape, RowModel


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
