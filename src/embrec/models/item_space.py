"""The item space of a model: one vector per item whose cosine says which items it treats alike.

Each model declares its own on its spec (:mod:`embrec.models.spec`): its item
embeddings, a decoder's item weights, or hidden codes. Models without item
vectors use :func:`adjusted_rating_columns`: the rating columns centred on each
user's mean rating, the adjusted cosine of Sarwar, Karypis, Konstan & Riedl,
"Item-Based Collaborative Filtering Recommendation Algorithms" (WWW 2001).

Items without training ratings keep their initial (random) vectors; callers
leave them out.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from embrec.errors import ModelError
from embrec.models.trained import TrainedNetwork

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


def item_embeddings(model: TrainedNetwork) -> ItemSpace:
    """The network's item embedding table ``q_i`` (``module.item_factors``)."""
    weights = model.module.item_factors.weight.detach().numpy()
    return ItemSpace(weights, f"{model.name} item embeddings")


def adjusted_rating_columns(model: TrainedNetwork) -> ItemSpace:
    """Items x users rating matrix centred on each user's mean rating (adjusted cosine)."""
    train = model.train
    counts = np.maximum(train.user_counts(), 1)
    means = np.bincount(train.users, weights=train.values, minlength=train.n_users) / counts
    centred = (train.values - means[train.users]).astype(np.float32)
    columns = sp.csr_matrix(
        (centred, (train.items, train.users)), shape=(train.n_items, train.n_users)
    )
    return ItemSpace(columns, "adjusted cosine of the rating columns")


def default_item_space(model: TrainedNetwork) -> ItemSpace:
    """The item embeddings when the network has an ``item_factors`` table, else the
    adjusted cosine of the rating columns (a spec's ``item_space`` unless it declares one)."""
    if hasattr(model.module, "item_factors"):
        return item_embeddings(model)
    return adjusted_rating_columns(model)
