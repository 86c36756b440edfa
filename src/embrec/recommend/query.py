"""A question to a recommender, built and checked once: whose list, and which items may be in it.

A :class:`Query` carries a user's ratings (LensKit's "query with history"): the
training ratings of a known user, the ratings a new user just gave, or both (a known
user's stored ratings overlaid on their training ones), plus what the list may hold:
``n``, whether rated items are left out, and the mask of allowed items (candidates
and :class:`~embrec.recommend.filters.ItemFilter`). The library, the CLI and the HTTP
service all build one here and hand it to
:meth:`embrec.recommend.engine.Recommender.answer`.

A new user's ratings (``{item id or title: rating}``) are read by
:meth:`QueryMaker.from_ratings`, the one place they are checked: raw ids are looked up
in one vectorised call, only the rest go through title matching
(:mod:`embrec.recommend.titles`); every input that names no item (or several) is
reported in one error; an item named twice, or a rating that is not a finite number
within the model's scale, is a :class:`~embrec.errors.ModelError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.errors import ModelError
from embrec.recommend.filters import ItemFilter
from embrec.recommend.result import plain
from embrec.recommend.titles import ItemNames


@dataclass(frozen=True)
class Matched:
    """What one input rating was read as: ``{input, item_id, title, rating, matched_by}``."""

    input: str
    item_id: Any
    title: str
    rating: float
    matched_by: str

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input, "item_id": self.item_id, "title": self.title,
                "rating": self.rating, "matched_by": self.matched_by}


@dataclass(frozen=True)
class Query:
    """Whose list (a known user's index or None, their rated items and ratings) and its shape.

    ``allowed`` is a boolean mask over items of those the list may hold (None: all);
    ``matched`` says what each of a new user's inputs was read as.
    """

    user: int | None
    items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float32))
    user_id: Any = None
    n: int = 10
    exclude_seen: bool = True
    allowed: np.ndarray | None = None
    explain: bool = True
    matched: tuple[Matched, ...] = ()

    def but(self, **changes: Any) -> Query:
        """This query with some fields changed."""
        return replace(self, **changes)


def describe_users(model: TrainedModel) -> str:
    ids = model.user_ids
    raw = ids.raw_ids
    if ids.is_integer and len(raw):
        return f"{len(raw)} users, ids {int(raw.min())}..{int(raw.max())}"
    return f"{len(raw)} users"


def unknown_user(model: TrainedModel, user_id: Any) -> ModelError:
    return ModelError(
        f"user {user_id} is not in this model ({describe_users(model)}); "
        "use recommend_for_ratings (embrec recommend --rate) for a new user"
    )


def user_index(model: TrainedModel, user_id: Any) -> int:
    """Index of a known user; a ModelError that points new users to fold-in otherwise."""
    index = model.user_ids.index_of(user_id)
    if index < 0:
        raise unknown_user(model, user_id)
    return index


class QueryMaker:
    """Builds checked :class:`Query` objects for one model (see the module docstring)."""

    def __init__(self, model: TrainedModel, names: ItemNames) -> None:
        self.model = model
        self.names = names
        self.history = model.train.to_csr(by="user")
        self._masks: dict[tuple[Any, ...], np.ndarray | None] = {}

    # -- who ----------------------------------------------------------------------------

    def describe_users(self) -> str:
        return describe_users(self.model)

    def unknown_user(self, user_id: Any) -> ModelError:
        return unknown_user(self.model, user_id)

    def user_index(self, user_id: Any) -> int:
        """Index of a known user; a ModelError that points new users to fold-in otherwise."""
        return user_index(self.model, user_id)

    def training_ratings(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop = self.history.indptr[user], self.history.indptr[user + 1]
        return self.history.indices[start:stop].astype(np.int64), self.history.data[start:stop]

    def known(self, user_id: Any) -> Query:
        """A known user's query: their training ratings."""
        user = self.user_index(user_id)
        items, values = self.training_ratings(user)
        return Query(user, items, values, user_id=plain(self.model.user_ids.to_raw([user])[0]))

    def overlaid(self, user_id: Any, items: np.ndarray, values: np.ndarray) -> Query:
        """A query of ``items``/``values`` over a known user's training ratings (newer wins).

        For a user the model does not know, just ``items``/``values``; either way the
        answer comes from folding in (the network has not seen the new ratings).
        """
        index = self.model.user_ids.index_of(user_id)
        if index >= 0:
            trained, rated = self.training_ratings(index)
            older = ~np.isin(trained, items)
            items = np.concatenate([trained[older], items])
            values = np.concatenate([rated[older], values])
        return Query(None, items, np.asarray(values, dtype=np.float32), user_id=user_id)

    def from_ratings(self, ratings: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> Query:
        """A new user's query from ``{item id or title: rating}``, with what each input matched."""
        pairs = list(ratings.items() if isinstance(ratings, Mapping) else ratings)
        keys = [key for key, _ in pairs]
        items, by_title = self.resolve_items(keys)
        unique, counts = np.unique(items, return_counts=True)
        if (counts > 1).any():
            twice = unique[counts > 1][0]
            a, b = (keys[k] for k in np.flatnonzero(items == twice)[:2])
            raise ModelError(f"{a!r} and {b!r} both name {self.names.titles[twice]!r}; "
                             "rate each item once (keep one of them and rate it once)")
        values = np.asarray([self.rating(value, index) for (_, value), index
                             in zip(pairs, items)], dtype=np.float64)
        raw_items = self.model.item_ids.to_raw(items) if keys else []
        matched = tuple(
            Matched(str(key), plain(raw), self.names.titles[index], float(value),
                    "title" if title else "id")
            for key, raw, index, value, title in zip(keys, raw_items, items, values, by_title)
        )
        return Query(None, items, values.astype(np.float32), matched=matched)

    def rating(self, value: Any, item: int) -> float:
        """A rating of ``item`` as a float on the model's scale; a ModelError otherwise."""
        scale = self.model.scale
        number = math.nan
        if not isinstance(value, bool) and isinstance(value, int | float | np.number | str):
            try:
                number = float(value)
            except ValueError:
                pass
        if not math.isfinite(number) or not scale.low <= number <= scale.high:
            reason = "" if math.isfinite(number) else " (it must be a finite number)"
            raise ModelError(
                f"rating {value!r} for {self.names.titles[item]!r} is outside this model's "
                f"rating scale {scale.low:g}..{scale.high:g}{reason}"
            )
        return number

    def resolve_items(self, keys: list[Any]) -> tuple[np.ndarray, list[bool]]:
        """Item indices of ids or titles, and which were found by title; all misses in one error."""
        ids = self.model.item_ids
        lookable = [key if isinstance(key, str | int | np.integer) and not isinstance(key, bool)
                    else "" for key in keys]
        direct = ids.indices_of(lookable) if keys else np.empty(0, dtype=np.int64)
        items = np.empty(len(keys), dtype=np.int64)
        by_title = [False] * len(keys)
        unmatched: list[str] = []
        for position, key in enumerate(keys):
            if isinstance(key, str):
                is_id = key.strip().isdigit() or not ids.is_integer
            else:
                is_id = isinstance(key, int | np.integer) and not isinstance(key, bool)
            if direct[position] >= 0 and is_id:
                items[position] = direct[position]
                continue
            try:
                items[position] = self.names.resolve(key)
            except ModelError as error:
                unmatched.append(str(error))
                continue
            stripped = key.strip() if isinstance(key, str) else key
            by_title[position] = ids.index_of(stripped) != items[position]
        if len(unmatched) == 1:
            raise ModelError(unmatched[0])
        if unmatched:
            listed = " ".join(f"({k}) {reason}" for k, reason in enumerate(unmatched, 1))
            raise ModelError(
                f"{len(unmatched)} of {len(keys)} ratings match no single item; fix or leave "
                f"them out: {listed}"
            )
        return items, by_title

    # -- which items ------------------------------------------------------------------------

    def allowed(
        self, candidates: Iterable[Any] | None = None, item_filter: ItemFilter | None = None
    ) -> np.ndarray | None:
        """Items a list may hold: ``candidates`` (all when None) that pass ``item_filter``.

        Masks are kept per (candidates, filter), so a service answering the same filter
        again does not rebuild it (genre masks scan every item's genres).
        """
        wanted = None if candidates is None else tuple(candidates)
        key = (wanted, item_filter)
        try:
            if key in self._masks:
                return self._masks[key]
        except TypeError:
            key = None
        mask = None
        if wanted is not None:
            mask = np.zeros(self.model.train.n_items, dtype=bool)
            mask[self.names.resolve_many(wanted)] = True
        filtered = None if item_filter is None else item_filter.mask(self.model.train, self.names)
        if filtered is not None:
            mask = filtered if mask is None else mask & filtered
        if key is not None and len(self._masks) < MASKS_KEPT:
            self._masks[key] = mask
        return mask

    def shaped(
        self,
        query: Query,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Iterable[Any] | None = None,
        explain: bool = True,
        item_filter: ItemFilter | None = None,
    ) -> Query:
        """``query`` asking for ``n`` items among the allowed ones."""
        return query.but(n=int(n), exclude_seen=exclude_seen, explain=explain,
                         allowed=self.allowed(candidates, item_filter))


MASKS_KEPT = 256
"""Distinct (candidates, filter) masks a :class:`QueryMaker` keeps."""
