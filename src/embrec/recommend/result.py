"""What the recommenders return: raw ids, titles and scores, best first, with how they were made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings
from embrec.display import TableDisplay


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(repr=False)
class Recommendations(TableDisplay):
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
        n_ratings_used: how many of the user's ratings the list was made from.
        matched: for a new user's ratings, what each input was read as
            (``{input, item_id, title, rating, matched_by}`` records, in input order).
    """

    item_ids: list[Any]
    titles: list[str]
    scores: np.ndarray
    strategy: str
    user_id: Any | None = None
    scorer: str = "predicted rating"
    because: list[list[str]] | None = None
    item_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    n_ratings_used: int = 0
    matched: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.item_ids)

    show_index = False

    def headline(self) -> str:
        who = "a new user" if self.user_id is None else f"user {self.user_id!r}"
        return f"{len(self)} recommendations for {who} ({self.strategy})"

    def to_pandas(self) -> pd.DataFrame:
        """``rank`` (1 = best), ``item_id``, ``title``, ``score`` and, for a new
        user, ``because`` (the rated titles most like each item, joined by ``; ``)."""
        frame = pd.DataFrame({
            "rank": np.arange(1, len(self) + 1),
            "item_id": self.item_ids,
            "title": self.titles,
            "score": np.asarray(self.scores, dtype=np.float64),
        })
        if self.because is not None:
            frame["because"] = ["; ".join(b) for b in self.because]
        return frame

    def repr_frame(self) -> pd.DataFrame:
        return self.to_pandas().drop(columns="because", errors="ignore")

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
        """The list as the HTTP API and ``--json`` give it (``because`` empty when not asked)."""
        items = self.to_records()
        if self.because is None:
            for record in items:
                record["because"] = []
        return {
            "user_id": plain(self.user_id),
            "strategy": self.strategy,
            "scorer": self.scorer,
            "n_ratings_used": self.n_ratings_used,
            "items": items,
            "matched": self.matched,
        }


@dataclass(repr=False)
class RecommendationBatch(TableDisplay):
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

    show_index = False

    def headline(self) -> str:
        return (f"top-{self.item_indices.shape[1]} recommendations for {len(self)} users "
                f"({self.strategy})")

    def to_pandas(self) -> pd.DataFrame:
        """One row per (user, recommended item): ``user_id``, ``rank``, ``item_id``,
        ``title``, ``score``; users with fewer unseen items have fewer rows."""
        valid = self.item_indices >= 0
        rows, ranks = np.nonzero(valid)
        indices = self.item_indices[valid]
        return pd.DataFrame({
            "user_id": np.asarray(self.user_ids, dtype=object)[rows],
            "rank": ranks + 1,
            "item_id": self.train.item_ids.to_raw(indices),
            "title": self.train.titles(indices),
            "score": self.scores[valid].astype(np.float64),
        })

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


@dataclass(repr=False)
class SimilarItems(TableDisplay):
    """The items closest to one item by cosine similarity in the model's item space."""

    item_id: Any
    title: str
    item_ids: list[Any]
    titles: list[str]
    similarities: np.ndarray
    space: str

    def __len__(self) -> int:
        return len(self.item_ids)

    show_index = False

    def headline(self) -> str:
        return (f"{len(self)} items like {self.title} (item {self.item_id!r}), "
                f"cosine in {self.space}")

    def to_pandas(self) -> pd.DataFrame:
        """``rank``, ``item_id``, ``title``, ``similarity`` (cosine), most similar first."""
        return pd.DataFrame({
            "rank": np.arange(1, len(self) + 1),
            "item_id": self.item_ids,
            "title": self.titles,
            "similarity": np.asarray(self.similarities, dtype=np.float64),
        })

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
