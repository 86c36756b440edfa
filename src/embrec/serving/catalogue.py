"""The model's items as a searchable catalogue: ids, titles, genres, years, popularity.

Search is forgiving in the way people type titles. The query and every title
are reduced to the comparison keys of :mod:`embrec.recommend.titles` (case,
accents, articles and punctuation ignored; a trailing year taken apart), then
items are ranked by how well they match:

0. the query names the item's id, or its whole title (``star wars``);
1. the title starts with the query (``star wa`` -> ``Star Wars (1977)``);
2. every word of the query starts a word of the title, in any order
   (``empire strikes`` -> ``Empire Strikes Back, The (1980)``);
3. when nothing matches so, a close spelling of a title (``star wras``), by
   :func:`difflib.get_close_matches`.

Within a rank, more rated items come first. An empty query lists the most
rated items: a good place for a newcomer to start rating.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings
from embrec.recommend.result import plain
from embrec.recommend.titles import name_key, split_title

FUZZY_CUTOFF = 0.6


@dataclass(frozen=True)
class CatalogueItem:
    """One item as the API shows it."""

    index: int
    item_id: Any
    title: str
    year: int | None
    genres: list[str]
    n_ratings: int
    mean_rating: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "year": self.year,
            "genres": self.genres,
            "n_ratings": self.n_ratings,
            "mean_rating": self.mean_rating,
        }


class Catalogue:
    """Every item of a model's training data, with a forgiving title search."""

    def __init__(self, train: Ratings) -> None:
        self.train = train
        self.titles = train.titles()
        self.counts = train.item_counts()
        sums = np.bincount(train.items, weights=train.values, minlength=train.n_items)
        self.means = np.where(self.counts > 0, sums / np.maximum(self.counts, 1), np.nan)
        info = train.item_info
        self._genres = self._column(info, "genres", train.n_items)
        self._years = self._column(info, "year", train.n_items)
        self._keys: list[list[str]] = []
        self._words: list[set[str]] = []
        self._by_key: dict[str, list[int]] = {}
        for index, title in enumerate(self.titles):
            keys, _ = split_title(title)
            keys = keys or [name_key(title)]
            self._keys.append(keys)
            self._words.append({word for key in keys for word in key.split()})
            for key in keys:
                self._by_key.setdefault(key, []).append(index)
        self._popular = np.argsort(-self.counts, kind="stable")

    @staticmethod
    def _column(info: Any, name: str, n_items: int) -> list[Any]:
        if info is None or name not in info:
            return [None] * n_items
        values = info[name].reindex(np.arange(n_items)).astype(object).tolist()
        return [None if pd.isna(v) else v for v in values]

    def __len__(self) -> int:
        return len(self.titles)

    def item(self, index: int) -> CatalogueItem:
        """The catalogue entry of an item index."""
        genres = self._genres[index]
        year = self._years[index]
        mean = self.means[index]
        return CatalogueItem(
            index=int(index),
            item_id=plain(self.train.item_ids.to_raw([index])[0]),
            title=self.titles[index],
            year=None if year is None else int(year),
            genres=[g for g in str(genres).split("|") if g] if genres else [],
            n_ratings=int(self.counts[index]),
            mean_rating=None if np.isnan(mean) else round(float(mean), 3),
        )

    def popular(self, limit: int) -> list[CatalogueItem]:
        """The ``limit`` most rated items."""
        return [self.item(i) for i in self._popular[:limit]]

    def search(self, query: str, limit: int = 20) -> list[CatalogueItem]:
        """Items matching ``query``, best first (see the module docstring)."""
        text = query.strip()
        if not text:
            return self.popular(limit)
        keys, year = split_title(text)
        key = keys[0] if keys else name_key(text)
        words = key.split()
        ranked: dict[int, int] = {}
        by_id = self.train.item_ids.index_of(text)
        if by_id >= 0:
            ranked[by_id] = 0
        if words:
            for index, item_keys in enumerate(self._keys):
                if year is not None and self._years[index] not in (None, year):
                    continue
                rank = self._rank(key, words, item_keys, self._words[index])
                if rank is not None and rank < ranked.get(index, 99):
                    ranked[index] = rank
            if not ranked:
                close = difflib.get_close_matches(key, list(self._by_key), n=limit,
                                                  cutoff=FUZZY_CUTOFF)
                for match in close:
                    for index in self._by_key[match]:
                        ranked.setdefault(index, 3)
        order = sorted(ranked, key=lambda i: (ranked[i], -self.counts[i], i))
        return [self.item(i) for i in order[:limit]]

    @staticmethod
    def _rank(key: str, words: list[str], item_keys: list[str], item_words: set[str]) -> int | None:
        if key in item_keys:
            return 0
        if any(k.startswith(key) for k in item_keys):
            return 1
        if all(any(w.startswith(q) for w in item_words) for q in words):
            return 2
        return None
