"""Which items a top-N list may hold: a minimum of training ratings, items or genres in or out.

An entry of ``include`` / ``exclude`` is an item (raw id or title, matched as
everywhere else: :mod:`embrec.recommend.titles`) or a genre written
``genre:NAME`` (case-insensitive; ``genre:Comedy``). An item passes when it has
at least ``min_ratings`` training ratings, matches some ``include`` entry (when
any is given) and matches no ``exclude`` entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings
from embrec.errors import ModelError
from embrec.recommend.titles import ItemNames

GENRE_PREFIX = "genre:"


@dataclass(frozen=True)
class ItemFilter:
    """Constraints on the items of a list (module docstring); the default lets all pass."""

    min_ratings: int = 0
    include: tuple[Any, ...] = ()
    exclude: tuple[Any, ...] = ()

    @classmethod
    def of(
        cls,
        min_ratings: int = 0,
        include: Iterable[Any] | None = None,
        exclude: Iterable[Any] | None = None,
    ) -> ItemFilter:
        if min_ratings < 0:
            raise ModelError(f"min_ratings must be 0 or more, not {min_ratings}")
        return cls(int(min_ratings), tuple(include or ()), tuple(exclude or ()))

    def mask(self, train: Ratings, names: ItemNames) -> np.ndarray | None:
        """Boolean mask over items of those that pass; None when nothing is filtered."""
        if self.min_ratings == 0 and not self.include and not self.exclude:
            return None
        allowed = train.item_counts() >= self.min_ratings
        if self.include:
            allowed &= _matching(self.include, train, names)
        if self.exclude:
            allowed &= ~_matching(self.exclude, train, names)
        return allowed


def _matching(entries: Iterable[Any], train: Ratings, names: ItemNames) -> np.ndarray:
    matched = np.zeros(train.n_items, dtype=bool)
    for entry in entries:
        if isinstance(entry, str) and entry.lower().startswith(GENRE_PREFIX):
            matched |= genre_mask(train, entry[len(GENRE_PREFIX):])
        else:
            matched[names.resolve(entry)] = True
    return matched


def genre_mask(train: Ratings, genre: str) -> np.ndarray:
    """Items whose ``|``-joined genres include ``genre`` (case-insensitive)."""
    info = train.item_info
    if info is None or "genres" not in info:
        raise ModelError(f"genre {genre!r}: this model's items have no genres")
    lists = info["genres"].reindex(range(train.n_items)).fillna("").astype(str)
    wanted = genre.strip().lower()
    mask = np.array([wanted in (g.lower() for g in text.split("|")) for text in lists])
    if not mask.any():
        known = sorted({g for text in lists for g in text.split("|") if g})
        raise ModelError(f"no item has genre {genre!r}; genres: {', '.join(known)}")
    return mask
