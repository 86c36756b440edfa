"""The item space of a model: one vector per item whose cosine says which items it treats alike.

Which vectors, per model:

* ``mf``, ``mf-bias``, ``embnet``: the item embeddings ``q_i``;
* ``autorec`` (user-based) and ``deep-ae``: the item's row of the last decoder
  layer, ``W[i, :]``: the output for item ``i`` is ``W[i, :] · h + c_i``, so two
  items with close rows get close predictions from every user's code ``h``;
* ``autorec`` (item-based): the hidden code of the item's rating row,
  ``h_i = σ(V r_i + b)``, centred on the mean code (sigmoid codes are all
  positive, so uncentred they would all look alike); the output for user ``u``
  is ``W[u, :] · h_i + c_u``, so items with close codes get close predictions;
* ``baseline``: it has no item vectors, so the rating columns stand in, centred
  on each user's mean rating: the adjusted cosine of Sarwar, Karypis, Konstan &
  Riedl, "Item-Based Collaborative Filtering Recommendation Algorithms" (WWW 2001).

Items without training ratings keep their initial (random) vectors; callers
leave them out.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from embrec.bundle import TrainedModel
from embrec.errors import ModelError

DENSE_LIMIT = 50_000_000


class ItemSpace:
    """Item vectors (dense, or sparse for rating columns), rows normalised for cosine."""

    def __init__(self, vectors: np.ndarray | sp.csr_matrix, description: str) -> None:
        self.description = description
        self.vectors = vectors
        if sp.issparse(vectors):
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
            scale = sp.diags(1.0 / np.where(norms > 0, norms, 1.0))
            self._unit: np.ndarray | sp.csr_matrix = (scale @ vectors).tocsr()
        else:
            vectors = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            self._unit = vectors / np.where(norms > 0, norms, 1.0)

    @property
    def n_items(self) -> int:
        return self.vectors.shape[0]

    @property
    def width(self) -> int:
        return self.vectors.shape[1]

    def cosine(self, rows: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarities ``(len(rows), len(others))`` (all items when ``others`` is None)."""
        left = self._unit[np.asarray(rows, dtype=np.int64)]
        right = self._unit if others is None else self._unit[np.asarray(others, dtype=np.int64)]
        product = left @ right.T
        return np.asarray(product.todense() if sp.issparse(product) else product, np.float32)

    def dense(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The (unnormalised) vectors of ``rows`` (all items when None) as a dense array."""
        picked = self.vectors if rows is None else self.vectors[np.asarray(rows, dtype=np.int64)]
        if sp.issparse(picked):
            if picked.shape[0] * picked.shape[1] > DENSE_LIMIT:
                raise ModelError(
                    f"{picked.shape[0]} x {picked.shape[1]} rating columns are too many to "
                    "handle densely; use a model with item embeddings"
                )
            return np.asarray(picked.todense(), dtype=np.float32)
        return np.asarray(picked, dtype=np.float32)


@torch.no_grad()
def item_codes(model: TrainedModel) -> np.ndarray:
    """Hidden codes ``σ(V r_i + b)`` of every item row of an item-based AutoRec ``(n_items, k)``."""
    module = model.module
    rows = model.reference_train.to_csr(by="item")
    out = np.empty((model.train.n_items, module.encoder.out_features), dtype=np.float32)
    chunk = 512
    for start in range(0, rows.shape[0], chunk):
        block = torch.from_numpy(rows[start : start + chunk].toarray())
        out[start : start + chunk] = torch.sigmoid(module.encoder(block)).numpy()
    return out


def adjusted_rating_columns(model: TrainedModel) -> sp.csr_matrix:
    """Items x users rating matrix centred on each user's mean rating."""
    train = model.train
    counts = np.maximum(train.user_counts(), 1)
    means = np.bincount(train.users, weights=train.values, minlength=train.n_users) / counts
    centred = (train.values - means[train.users]).astype(np.float32)
    return sp.csr_matrix(
        (centred, (train.items, train.users)), shape=(train.n_items, train.n_users)
    )


def item_space(model: TrainedModel) -> ItemSpace:
    """The item vectors of ``model`` (see the module docstring)."""
    module = model.module
    name = model.name
    if hasattr(module, "item_factors"):
        return ItemSpace(module.item_factors.weight.detach().numpy(), f"{name} item embeddings")
    if name == "autorec" and module.orientation == "item":
        codes = item_codes(model)
        return ItemSpace(codes - codes.mean(axis=0), "autorec hidden codes of the item rows")
    if name == "autorec":
        return ItemSpace(module.decoder.weight.detach().numpy(), "autorec decoder item weights")
    if name == "deep-ae":
        weights = module.decoder[-1].weight.detach().numpy()
        return ItemSpace(weights, "deep-ae last decoder layer item weights")
    return ItemSpace(adjusted_rating_columns(model), "adjusted cosine of the rating columns")
