"""Predictions from a trained network, with the baseline as the fallback.

A :class:`Predictor` turns index pairs into clipped rating predictions for any
network, whatever view of the data it was trained on. Pairs whose user or item
had no training ratings (or is unknown, index -1) get the baseline
``μ + b_u + b_i`` instead, and are reported as such: a network has learned
nothing about them.

A network of ``view == "members"`` (the blend, :mod:`embrec.models.blend`)
combines member networks: the predictor keeps one predictor per member
(``members``), asks each for its raw outputs and hands them to the network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.transform import RatingTransform
from embrec.models.baseline import solve_biases

PREDICT_CHUNK = 1 << 16
ROW_BLOCK_VALUES = 1 << 22
"""Input values per block when rows go through a network (about 16 MB of float32)."""
FALLBACK_REG_USER = 15.0
"""λ_u of the fallback baseline (``Fallback.fit``), for a new user's fallback bias."""


@dataclass
class Fallback:
    """The baseline ``μ + b_u + b_i``; an unknown user or item (index -1) has bias 0."""

    global_mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray

    @classmethod
    def fit(
        cls, train: Ratings, reg_user: float = FALLBACK_REG_USER, reg_item: float = 10.0
    ) -> Fallback:
        mu, b_user, b_item = solve_biases(
            train.users, train.items, train.values, train.n_users, train.n_items,
            reg_user, reg_item,
        )
        return cls(mu, b_user, b_item)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        b_user = np.where(users >= 0, self.user_bias[np.maximum(users, 0)], 0.0)
        b_item = np.where(items >= 0, self.item_bias[np.maximum(items, 0)], 0.0)
        return (self.global_mean + b_user + b_item).astype(np.float32)


def parameter_device(module: torch.nn.Module) -> torch.device:
    """Where a network's parameters (or buffers) are; the CPU for one without any."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


class Predictor:
    """Predicts ratings for index pairs from a network and the data it was trained on.

    ``train`` and ``fallback`` are in rating units; the network works on the
    reference scale of ``transform`` (see :mod:`embrec.data.transform`): its
    input rows are mapped forward and its outputs mapped back.

    The network scores on ``device`` (default: where its parameters are): index
    and row blocks go there, scores come back as numpy arrays. A network asked
    to score on another device is copied there; ``module`` itself stays put.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        train: Ratings,
        fallback: Fallback,
        scale: RatingScale,
        transform: RatingTransform | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.device = parameter_device(module) if device is None else torch.device(device)
        if parameter_device(module) != self.device:
            module = copy.deepcopy(module).to(self.device)
        self.module = module
        self.train = train
        self.fallback = fallback
        self.scale = scale
        self.transform = transform or RatingTransform()
        self.user_counts = train.user_counts()
        self.item_counts = train.item_counts()
        self._row_outputs: dict[str, torch.Tensor] = {}
        self._input_rows = None
        self.members = [Predictor(member, train, fallback, scale, transform)
                        for member in module.members] if module.view == "members" else []
        if module.view == "rows":
            model_train = self.transform.forward_ratings(train)
            self._input_rows = model_train.to_csr(by=module.orientation)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A numpy block as a tensor on the scoring device."""
        return torch.from_numpy(array).to(self.device)

    def _to_ratings(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs in rating units (unchanged for the identity transform)."""
        if self.transform.identity:
            return outputs
        return np.asarray(self.transform.inverse(outputs), dtype=np.float32)

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def modelled(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """True where the network knows both the user and the item."""
        known = (users >= 0) & (items >= 0)
        u, i = np.maximum(users, 0), np.maximum(items, 0)
        return known & (self.user_counts[u] > 0) & (self.item_counts[i] > 0)

    @torch.no_grad()
    def predict(
        self, users: np.ndarray, items: np.ndarray, clip: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted ratings and the mask of pairs the network (not the fallback) answered."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        result = self.fallback.predict(users, items)
        modelled = self.modelled(users, items)
        where = np.flatnonzero(modelled)
        if len(where):
            with self._evaluating():
                result[where] = self._to_ratings(self._network_predict(users[where], items[where]))
        if clip:
            result = self.scale.clip(result)
        return result.astype(np.float32), modelled

    def _network_predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.members:
            return self._combine([m._network_predict(users, items) for m in self.members])
        if self.module.view == "pairs":
            out = np.empty(len(users), dtype=np.float32)
            for start in range(0, len(users), PREDICT_CHUNK):
                u = self._tensor(users[start : start + PREDICT_CHUNK])
                i = self._tensor(items[start : start + PREDICT_CHUNK])
                out[start : start + PREDICT_CHUNK] = self.module(u, i).cpu().numpy()
            return out
        rows, cols = (items, users) if self.module.orientation == "item" else (users, items)
        if getattr(self.module, "whole_matrix", False):
            return self._whole_matrix()[rows, cols]
        unique_rows, position = np.unique(rows, return_inverse=True)
        out = np.empty(len(rows), dtype=np.float32)
        chunk = max(1, (1 << 22) // max(1, self._input_rows.shape[1]))
        for start in range(0, len(unique_rows), chunk):
            block = unique_rows[start : start + chunk]
            recon = self.module(self._tensor(self._input_rows[block].toarray())).cpu().numpy()
            picked = (position >= start) & (position < start + len(block))
            out[picked] = recon[position[picked] - start, cols[picked]]
        return out

    @torch.no_grad()
    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Unclipped predicted ratings of every item for each user: ``(len(users), n_items)``.

        Items without training ratings score their fallback prediction.
        """
        users = np.asarray(users, dtype=np.int64)
        with self._evaluating():
            scores = self._to_ratings(self._network_scores(users))
        cold_items = self.item_counts == 0
        if cold_items.any():
            fallback = self.fallback.global_mean + self.fallback.user_bias[users][:, None]
            scores[:, cold_items] = (fallback + self.fallback.item_bias[cold_items][None, :])
        cold_users = self.user_counts[users] == 0
        if cold_users.any():
            scores[cold_users] = self.fallback.global_mean + self.fallback.item_bias[None, :]
        return scores

    def _whole_matrix(self) -> np.ndarray:
        """The reconstruction of the whole input matrix, for networks that take only all of it."""
        if "matrix" not in self._row_outputs:
            dense = self._tensor(self._input_rows.toarray())
            self._row_outputs["matrix"] = self.module(dense).cpu()
        return self._row_outputs["matrix"].numpy()

    def fill_cold_items(
        self, scores: np.ndarray, items: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """A new user's scores of every item, items without training ratings on the fallback.

        ``scores`` come from folding ``items``/``values`` into the network, which knows
        nothing of untrained items; they get ``μ + b_u + b_i`` as a known user's do, with
        ``b_u = Σ (r_i - μ - b_i) / (λ_u + k)`` over the user's ``k`` ratings (``λ_u`` =
        :data:`FALLBACK_REG_USER`, the fallback's own). Changes ``scores`` in place.
        """
        cold = self.item_counts == 0
        if cold.any():
            fallback = self.fallback
            residual = values - fallback.global_mean - fallback.item_bias[items]
            user_bias = residual.sum() / (FALLBACK_REG_USER + len(residual))
            scores[cold] = fallback.global_mean + user_bias + fallback.item_bias[cold]
        return scores

    def _combine(self, outputs: list[np.ndarray]) -> np.ndarray:
        """The network's combination of its members' raw outputs (same shape as each)."""
        stacked = self._tensor(np.stack(outputs).reshape(len(outputs), -1))
        return self.module(stacked).cpu().numpy().reshape(outputs[0].shape)

    @torch.no_grad()
    def forward_rows(self, rows: np.ndarray) -> np.ndarray:
        """A row model's outputs for input rows ``(B, n_columns)`` (network units), on the device.

        In eval mode, in blocks of about 4M input values: one transfer and one
        call per block. A new user's rating row folds in this way.
        """
        rows = np.asarray(rows, dtype=np.float32)
        chunk = max(1, ROW_BLOCK_VALUES // max(1, rows.shape[1]))
        with self._evaluating():
            blocks = [self.module(self._tensor(rows[start : start + chunk])).cpu().numpy()
                      for start in range(0, len(rows), chunk)]
        return np.concatenate(blocks) if blocks else np.empty((0, 0), dtype=np.float32)

    @torch.no_grad()
    def item_codes(self) -> torch.Tensor:
        """The hidden codes ``encode(r_i)`` of every item row ``(n_items, hidden)``, on the device.

        For item-row models with an ``encode`` (AutoRec); computed once, in blocks
        of the training rows, and kept.
        """
        if "item_codes" not in self._row_outputs:
            chunk = self._item_chunk()
            with self._evaluating():
                codes = [self.module.encode(self._dense_rows(start, start + chunk))
                         for start in range(0, self.train.n_items, chunk)]
            self._row_outputs["item_codes"] = torch.cat(codes)
        return self._row_outputs["item_codes"]

    def _network_scores(self, users: np.ndarray) -> np.ndarray:
        if self.members:
            return self._combine([m._network_scores(users) for m in self.members])
        if getattr(self.module, "whole_matrix", False):
            full = self._whole_matrix()
            return np.ascontiguousarray(full[:, users].T if self.module.orientation == "item"
                                        else full[users])
        if self.module.view == "pairs":
            scores = self.module.score_users(self._tensor(users))
            return scores.cpu().numpy().astype(np.float32)
        if self.module.orientation == "user":
            rows = self._tensor(self._input_rows[users].toarray())
            return self.module(rows).cpu().numpy()
        return self._item_row_scores(users)

    def _item_row_scores(self, users: np.ndarray) -> np.ndarray:
        """Scores of item-row models, streamed over items: never ``n_items × n_users`` at once.

        A model with ``encode``/``decode`` (AutoRec) has every item's code
        computed once and kept (``n_items × hidden``); a user's scores are then
        the entries of the decoder for that user's column only. Other models
        reconstruct the items in chunks and keep the requested columns.
        """
        columns = self._tensor(users)
        out = np.empty((len(users), self.train.n_items), dtype=np.float32)
        chunk = self._item_chunk()
        if hasattr(self.module, "encode") and hasattr(self.module, "decode"):
            codes = self.item_codes()
            step = max(1, (1 << 22) // max(1, len(users)))
            for start in range(0, self.train.n_items, step):
                block = self.module.decode(codes[start : start + step], columns)
                out[:, start : start + step] = block.T.cpu().numpy()
            return out
        for start in range(0, self.train.n_items, chunk):
            block = self.module(self._dense_rows(start, start + chunk))
            out[:, start : start + chunk] = block[:, columns].T.cpu().numpy()
        return out

    def _item_chunk(self) -> int:
        """Item rows per block through an item-row network (about 16M input values)."""
        return max(64, (1 << 24) // max(1, self.train.n_users))

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """The network in eval mode (no dropout) for the block, then as it was."""
        was_training = self.module.training
        self.module.eval()
        try:
            yield
        finally:
            self.module.train(was_training)

    def _dense_rows(self, start: int, stop: int) -> torch.Tensor:
        return self._tensor(self._input_rows[start:stop].toarray())
