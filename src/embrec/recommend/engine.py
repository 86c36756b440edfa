"""One path from a query to a ranked list, whoever the user is.

A :class:`Query` carries a user's ratings (LensKit's "query with history"): the
training ratings of a known user, or the ratings a new user just gave. Every
recommendation goes through the same steps::

    query -> scores of every item -> history (and non-candidates) masked to -inf
          -> top-N by argpartition -> clipped predicted ratings, titles, explanations

The ranking key is the ranking model's pick score times the predicted rating when
the bundle holds a ranking model, else the predicted rating
(:mod:`embrec.recommend.ranking_scorer`); the list says which (``scorer``). The
scores shown are always predicted ratings. Only the scoring step differs: a known
user is scored by the trained network
(``predictor.score_users``), a new user by folding their ratings into the frozen
network (:mod:`embrec.recommend.foldin`), a user with no ratings by the cold-start
rule (:mod:`embrec.recommend.coldstart`); with a ranking model, a user with no
ratings gets the average user's pick score (``p B`` for EASE, ``p_i`` the share of
users who picked ``i``) times the average user's predicted rating: popular and
well liked. Items without training ratings get the
fallback baseline in every case (``μ + b_u + b_i``; for a new user
``b_u = Σ (r_i - μ - b_i) / (λ_u + k)``), as the predictor gives known users.

Explanations ("because you rated X highly"): for recommended item j, the items
of the history rated at or above the user's mean rating, ranked by the cosine
similarity of their vectors to j's in the model's item space
(:mod:`embrec.recommend.space`); the two most similar with positive cosine.
Items with fewer than 5 training ratings explain only when nothing else can:
their vectors are mostly initialisation, so their cosines are noise.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.errors import ModelError
from embrec.recommend.coldstart import COLD_START, average_user_scores, liked_share
from embrec.recommend.filters import ItemFilter
from embrec.recommend.foldin import FoldIn, make_fold_in
from embrec.recommend.ranking_scorer import PREDICTED_RATING, pick_times_liking, scorer_name
from embrec.recommend.result import Recommendations, plain
from embrec.recommend.space import ItemSpace, item_space
from embrec.recommend.titles import ItemNames

KNOWN_USER = "known user"
KNOWN_WITHOUT_RATINGS = "known user without training ratings: baseline"
EXPLAIN_PER_ITEM = 2
EXPLAIN_MIN_RATINGS = 5
FALLBACK_REG_USER = 15.0
"""λ_u of the fallback baseline (``Fallback.fit``), for a new user's fallback bias."""
CACHED_MODELS = 4
COLD_START_RANKED = "cold-start: the average user's pick score x predicted rating"


@dataclass(frozen=True)
class Query:
    """A user to recommend for: a known user's index, or None, and the user's ratings."""

    user: int | None
    items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float32))
    user_id: Any = None


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices ``(B, min(n, n_items))`` of the highest scores per row, best first; -1 for -inf."""
    n = max(0, min(int(n), scores.shape[1]))
    if n == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1).astype(np.int64)
    best[np.take_along_axis(values, order, axis=1) == -np.inf] = -1
    return best


class Recommender:
    """A trained model with what recommending needs: names, history, item space, fold-in."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model
        self.names = ItemNames(model.train)
        self.history = model.train.to_csr(by="user")
        self.item_counts = model.train.item_counts()
        self.user_counts = model.train.user_counts()
        self._space: ItemSpace | None = None
        self._fold_in: FoldIn | None = None
        self._average: np.ndarray | None = None
        self._average_pick: np.ndarray | None = None

    @property
    def space(self) -> ItemSpace:
        if self._space is None:
            self._space = item_space(self.model)
        return self._space

    @property
    def fold_in(self) -> FoldIn:
        if self._fold_in is None:
            self._fold_in = make_fold_in(self.model)
        return self._fold_in

    @property
    def average_user(self) -> np.ndarray:
        if self._average is None:
            self._average = average_user_scores(self.model)
        return self._average

    # -- queries --------------------------------------------------------------------

    def describe_users(self) -> str:
        ids = self.model.user_ids
        raw = ids.raw_ids
        if ids.is_integer and len(raw):
            return f"{len(raw)} users, ids {int(raw.min())}..{int(raw.max())}"
        return f"{len(raw)} users"

    def unknown_user(self, user_id: Any) -> ModelError:
        return ModelError(
            f"user {user_id} is not in this model ({self.describe_users()}); "
            "use recommend_for_ratings (embrec recommend --rate) for a new user"
        )

    def user_index(self, user_id: Any) -> int:
        """Index of a known user; a ModelError that points new users to fold-in otherwise."""
        index = self.model.user_ids.index_of(user_id)
        if index < 0:
            raise self.unknown_user(user_id)
        return index

    def known_query(self, user_id: Any) -> Query:
        user = self.user_index(user_id)
        start, stop = self.history.indptr[user], self.history.indptr[user + 1]
        return Query(
            user,
            self.history.indices[start:stop].astype(np.int64),
            self.history.data[start:stop],
            user_id=plain(self.model.user_ids.to_raw([user])[0]),
        )

    def ratings_query(self, ratings: Mapping[Any, float] | Iterable[tuple[Any, float]]) -> Query:
        """A new user's query from ``{item id or title: rating}``; checks items and the scale."""
        pairs = list(ratings.items() if isinstance(ratings, Mapping) else ratings)
        scale = self.model.scale
        items = np.empty(len(pairs), dtype=np.int64)
        values = np.empty(len(pairs), dtype=np.float32)
        named: dict[int, Any] = {}
        for position, (item, rating) in enumerate(pairs):
            index = self.names.resolve(item)
            if index in named:
                raise ModelError(
                    f"{named[index]!r} and {item!r} both name {self.names.titles[index]!r}; "
                    "rate each item once"
                )
            named[index] = item
            try:
                value = float(rating)
            except (TypeError, ValueError):
                value = math.nan
            if isinstance(rating, bool) or not math.isfinite(value) or not (
                scale.low <= value <= scale.high
            ):
                raise ModelError(
                    f"rating {rating!r} for {self.names.titles[index]!r} is outside this "
                    f"model's rating scale {scale.low:g}..{scale.high:g}"
                )
            items[position], values[position] = index, value
        return Query(None, items, values)

    def candidate_mask(
        self, candidates: Iterable[Any] | None, item_filter: ItemFilter | None = None
    ) -> np.ndarray | None:
        """Items a list may hold: ``candidates`` (all when None) that pass ``item_filter``."""
        mask = None
        if candidates is not None:
            mask = np.zeros(self.model.train.n_items, dtype=bool)
            mask[self.names.resolve_many(candidates)] = True
        filtered = None if item_filter is None else item_filter.mask(self.model.train, self.names)
        if filtered is None:
            return mask
        return filtered if mask is None else mask & filtered

    # -- scoring --------------------------------------------------------------------

    @property
    def scorer(self) -> str:
        """What orders the lists of users with ratings (``scorer`` of the results)."""
        ranker = self.model.ranker
        return scorer_name(None if ranker is None else ranker.name)

    def score(self, query: Query) -> tuple[np.ndarray, np.ndarray, str, str]:
        """``(ranking key, predicted ratings, strategy, scorer)`` for every item.

        The predicted ratings are unclipped; the key is the predicted rating, or
        with a ranking model in the bundle the pick score times it.
        """
        rank, predicted, strategy = self.rating_scores(query)
        ranker = self.model.ranker
        if ranker is None:
            return rank, predicted, strategy, PREDICTED_RATING if len(query.items) else strategy
        if len(query.items) == 0:
            if self._average_pick is None:
                self._average_pick = ranker.average_user(self.model.train)
            key = pick_times_liking(self._average_pick, predicted, self.model.scale)
            return key, predicted, COLD_START_RANKED, COLD_START_RANKED
        key = pick_times_liking(ranker.score_items(query.items), predicted, self.model.scale)
        return key, predicted, strategy, self.scorer

    def rating_scores(self, query: Query) -> tuple[np.ndarray, np.ndarray, str]:
        """``(ranking key, predicted ratings, strategy)`` of the rating model alone."""
        if query.user is not None:
            predicted = self.model.predictor.score_users(np.asarray([query.user]))[0]
            known = self.user_counts[query.user] > 0
            return predicted, predicted, KNOWN_USER if known else KNOWN_WITHOUT_RATINGS
        if len(query.items) == 0:
            average = self.average_user
            key = pick_times_liking(liked_share(self.model), average, self.model.scale)
            return key, average, COLD_START
        predicted = np.asarray(self.fold_in.scores(query.items, query.values), dtype=np.float64)
        cold = self.item_counts == 0
        if cold.any():
            fallback = self.model.fallback
            residual = query.values - fallback.global_mean - fallback.item_bias[query.items]
            user_bias = residual.sum() / (FALLBACK_REG_USER + len(residual))
            predicted[cold] = fallback.global_mean + user_bias + fallback.item_bias[cold]
        return predicted, predicted, self.fold_in.description

    def recommend(
        self,
        query: Query,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Iterable[Any] | None = None,
        explain: bool = True,
        item_filter: ItemFilter | None = None,
    ) -> Recommendations:
        """The top ``n`` items for ``query``, best first (see the module docstring)."""
        rank, predicted, strategy, scorer = self.score(query)
        rank = np.array(rank, dtype=np.float64)
        if exclude_seen:
            rank[query.items] = -np.inf
        mask = self.candidate_mask(candidates, item_filter)
        if mask is not None:
            rank[~mask] = -np.inf
        best = top_n(rank[None, :], n)[0]
        best = best[best >= 0]
        because = None
        if explain:
            because = self.explain(best, query.items, query.values)
        return Recommendations(
            item_ids=[plain(v) for v in self.model.item_ids.to_raw(best)],
            titles=[self.names.titles[i] for i in best],
            scores=self.model.scale.clip(np.asarray(predicted)[best]).astype(np.float32),
            strategy=strategy,
            scorer=scorer,
            user_id=query.user_id,
            because=because,
            item_indices=best,
        )

    def explain(
        self, items: np.ndarray, history: np.ndarray, values: np.ndarray
    ) -> list[list[str]]:
        """Per item, the titles of the liked history items most like it (module docstring)."""
        if len(history) == 0 or len(items) == 0:
            return [[] for _ in items]
        liked = history[values >= values.mean()]
        trusted = liked[self.item_counts[liked] >= EXPLAIN_MIN_RATINGS]
        liked = trusted if len(trusted) else liked
        similarity = self.space.cosine(items, liked)
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :EXPLAIN_PER_ITEM]
        return [
            [self.names.titles[liked[j]] for j in row if similarity[r, j] > 0]
            for r, row in enumerate(order)
        ]


_RECOMMENDERS: OrderedDict[int, Recommender] = OrderedDict()


def recommender_for(model: TrainedModel) -> Recommender:
    """The (cached) Recommender of ``model``; the last few models' caches are kept."""
    key = id(model)
    cached = _RECOMMENDERS.get(key)
    if cached is not None and cached.model is model:
        _RECOMMENDERS.move_to_end(key)
        return cached
    recommender = Recommender(model)
    _RECOMMENDERS[key] = recommender
    while len(_RECOMMENDERS) > CACHED_MODELS:
        _RECOMMENDERS.popitem(last=False)
    return recommender
