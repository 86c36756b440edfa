"""What the recommenders return: raw ids, titles and scores, best first, with how they were made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class Recommendations:
    """Top-N items for one user (known, folded in, or cold).

    Attributes:
        item_ids: raw item ids, best first.
        titles: their titles (the id as text where the data has none).
        scores: predicted ratings, clipped to the rating scale.
        strategy: how the list was made, e.g. ``"known user"``,
            ``"fold-in: closed-form MAP on frozen item factors (mf-bias)"`` or
            ``"cold-start: average user + popularity"``.
        user_id: the raw id of a known user, None for a new one.
        scorer: what ordered the list, e.g. ``"ease pick score x predicted
            rating"`` or ``"predicted rating"`` (:mod:`embrec.recommend.ranking_scorer`).
        because: per item, the titles of the rated items most like it among those
            the user rated at or above their mean ("because you rated X highly").
        item_indices: the items' contiguous indices in the model.
    """

    item_ids: list[Any]
    titles: list[str]
    scores: np.ndarray
    strategy: str
    user_id: Any | None = None
    scorer: str = "predicted rating"
    because: list[list[str]] | None = None
    item_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_records(self) -> list[dict[str, Any]]:
        records = []
        for position, (item, title, score) in enumerate(
            zip(self.item_ids, self.titles, self.scores)
        ):
            record = {"item_id": plain(item), "title": title, "score": round(float(score), 4)}
            if self.because is not None:
                record["because"] = self.because[position]
            records.append(record)
        return records

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": plain(self.user_id),
            "strategy": self.strategy,
            "scorer": self.scorer,
            "items": self.to_records(),
        }


@dataclass
class RecommendationBatch:
    """Top-N items for many known users as ``(n_users, n)`` arrays.

    ``item_indices`` is -1 and ``scores`` NaN where a user has fewer than ``n``
    unseen items. ``batch[b]`` is user ``b``'s :class:`Recommendations`.
    """

    user_ids: list[Any]
    item_indices: np.ndarray
    scores: np.ndarray
    train: Ratings
    strategy: str = "known user"
    scorer: str = "predicted rating"

    def __len__(self) -> int:
        return len(self.user_ids)

    @property
    def item_ids(self) -> np.ndarray:
        """Raw item ids ``(n_users, n)``; None where there is no item."""
        raw = self.train.item_ids.to_raw(np.maximum(self.item_indices, 0)).astype(object)
        raw[self.item_indices < 0] = None
        return raw

    def __getitem__(self, row: int) -> Recommendations:
        valid = self.item_indices[row] >= 0
        indices = self.item_indices[row][valid]
        return Recommendations(
            item_ids=[plain(v) for v in self.train.item_ids.to_raw(indices)],
            titles=self.train.titles(indices),
            scores=self.scores[row][valid],
            strategy=self.strategy,
            scorer=self.scorer,
            user_id=self.user_ids[row],
            item_indices=indices,
        )


@dataclass
class SimilarItems:
    """The items closest to one item by cosine similarity in the model's item space."""

    item_id: Any
    title: str
    item_ids: list[Any]
    titles: list[str]
    similarities: np.ndarray
    space: str

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": plain(self.item_id),
            "title": self.title,
            "space": self.space,
            "items": [
                {"item_id": plain(i), "title": t, "score": round(float(s), 4)}
                for i, t, s in zip(self.item_ids, self.titles, self.similarities)
            ],
        }
