"""One path from a query to a ranked list, whoever the user is.

A :class:`~embrec.recommend.query.Query` carries a user's ratings (LensKit's
"query with history") and what the list may hold; :meth:`Recommender.answer` is the
one function that answers it, for the library (:mod:`.known`, :mod:`.new_user`), the
CLI and the HTTP service::

    query -> scores of every item -> history (and items not allowed) masked to -inf
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
well liked. Items without training ratings get the predictor's fallback baseline
in every case (``Predictor.score_users``, ``Predictor.fill_cold_items``).

Explanations ("because you rated X highly"): for recommended item j, the items
of the history rated at or above the user's mean rating, ranked by the cosine
similarity of their vectors to j's in the model's item space
(:mod:`embrec.recommend.space`); the two most similar with positive cosine.
Items with fewer than 5 training ratings explain only when nothing else can:
their vectors are mostly initialisation, so their cosines are noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from embrec.bundle import TrainedModel
from embrec.errors import ModelError
from embrec.recommend.coldstart import COLD_START, average_user_scores, popularity_bonus
from embrec.recommend.filters import ItemFilter
from embrec.recommend.foldin import FoldIn, make_fold_in
from embrec.recommend.query import Matched, Query, QueryMaker
from embrec.recommend.ranking_scorer import PREDICTED_RATING, pick_times_liking, scorer_name
from embrec.recommend.result import Recommendations, plain
from embrec.recommend.space import ItemSpace, item_space
from embrec.recommend.titles import ItemNames

KNOWN_USER = "known user"
KNOWN_WITHOUT_RATINGS = "known user without training ratings: baseline"
EXPLAIN_PER_ITEM = 2
EXPLAIN_MIN_RATINGS = 5
COLD_START_RANKED = "cold-start: the average user's pick score x predicted rating"
RECOMMENDER_ATTRIBUTE = "_recommender"

__all__ = ["Matched", "Query", "Recommender", "recommender_for", "top_n"]


def pick_rows(items: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """The 0/1 ``len(items) x n_items`` matrix whose row ``k`` picks ``items[k]``."""
    lengths = [len(row) for row in items]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    columns = np.concatenate(items).astype(np.int64) if items else np.empty(0, np.int64)
    ones = np.ones(len(columns), dtype=np.float32)
    return sp.csr_matrix((ones, columns, indptr), shape=(len(items), n_items))


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
    """A trained model with what recommending needs: names, queries, item space, fold-in."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model
        self.names = ItemNames(model.train)
        self.queries = QueryMaker(model, self.names)
        self.history = self.queries.history
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

    # -- queries (built and checked by :class:`QueryMaker`) -----------------------------

    def describe_users(self) -> str:
        return self.queries.describe_users()

    def unknown_user(self, user_id: Any) -> ModelError:
        return self.queries.unknown_user(user_id)

    def user_index(self, user_id: Any) -> int:
        """Index of a known user; a ModelError that points new users to fold-in otherwise."""
        return self.queries.user_index(user_id)

    def known_query(self, user_id: Any) -> Query:
        return self.queries.known(user_id)

    def ratings_query(self, ratings: Mapping[Any, float] | Iterable[tuple[Any, float]]) -> Query:
        """A new user's query from ``{item id or title: rating}``; checks items and the scale."""
        return self.queries.from_ratings(ratings)

    def candidate_mask(
        self, candidates: Iterable[Any] | None, item_filter: ItemFilter | None = None
    ) -> np.ndarray | None:
        """Items a list may hold: ``candidates`` (all when None) that pass ``item_filter``."""
        return self.queries.allowed(candidates, item_filter)

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
        rank, predicted, strategies, scorers = self.score_many([query])
        return rank[0], predicted[0], strategies[0], scorers[0]

    def score_many(
        self, queries: Sequence[Query]
    ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
        """:meth:`score` of many queries as ``(len(queries), n_items)`` matrices.

        The known users are scored by one ``predictor.score_users`` call and every
        query with ratings by one product with the ranking model, whoever asked.
        """
        shape = (len(queries), self.model.train.n_items)
        rank, predicted = np.empty(shape), np.empty(shape)
        strategies = [""] * len(queries)
        known = [k for k, query in enumerate(queries) if query.user is not None]
        if known:
            users = np.asarray([queries[k].user for k in known], dtype=np.int64)
            rank[known] = predicted[known] = self.model.predictor.score_users(users)
            for k, user in zip(known, users):
                trained = self.user_counts[user] > 0
                strategies[k] = KNOWN_USER if trained else KNOWN_WITHOUT_RATINGS
        for k, query in enumerate(queries):
            if query.user is None:
                rank[k], predicted[k], strategies[k] = self.rating_scores(query)
        ranker = self.model.ranker
        if ranker is None:
            scorers = [PREDICTED_RATING if len(query.items) else strategy
                       for query, strategy in zip(queries, strategies)]
            return rank, predicted, strategies, scorers
        scorers = [self.scorer] * len(queries)
        rated = [k for k, query in enumerate(queries) if len(query.items)]
        if rated:
            picks = pick_rows([queries[k].items for k in rated], shape[1])
            rank[rated] = pick_times_liking(ranker.score_picks(picks), predicted[rated],
                                            self.model.scale)
        for k in sorted(set(range(len(queries))) - set(rated)):
            if self._average_pick is None:
                self._average_pick = ranker.average_user(self.model.train)
            rank[k] = pick_times_liking(self._average_pick, predicted[k], self.model.scale)
            strategies[k] = scorers[k] = COLD_START_RANKED
        return rank, predicted, strategies, scorers

    def rating_scores(self, query: Query) -> tuple[np.ndarray, np.ndarray, str]:
        """``(ranking key, predicted ratings, strategy)`` of the rating model alone."""
        predictor = self.model.predictor
        if query.user is not None:
            predicted = predictor.score_users(np.asarray([query.user]))[0]
            known = self.user_counts[query.user] > 0
            return predicted, predicted, KNOWN_USER if known else KNOWN_WITHOUT_RATINGS
        if len(query.items) == 0:
            average = self.average_user
            return average + popularity_bonus(self.model), average, COLD_START
        folded = np.asarray(self.fold_in.scores(query.items, query.values), dtype=np.float64)
        predicted = predictor.fill_cold_items(folded, query.items, query.values)
        return predicted, predicted, self.fold_in.description

    # -- the one answer -----------------------------------------------------------------

    def answer(self, query: Query) -> Recommendations:
        """The top ``query.n`` allowed items for ``query``, best first (module docstring)."""
        return self.answer_many([query])[0]

    def answer_many(self, queries: Sequence[Query]) -> list[Recommendations]:
        """:meth:`answer` of many queries, scored together (:meth:`score_many`)."""
        if not queries:
            return []
        rank, predicted, strategies, scorers = self.score_many(queries)
        for k, query in enumerate(queries):
            if query.exclude_seen:
                rank[k, query.items] = -np.inf
            if query.allowed is not None:
                rank[k, ~query.allowed] = -np.inf
        best: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(queries)
        for n in {query.n for query in queries}:
            rows = [k for k, query in enumerate(queries) if query.n == n]
            for k, top in zip(rows, top_n(rank[rows], n)):
                best[k] = top[top >= 0]
        return [
            self._listed(query, items, predicted[k], strategies[k], scorers[k])
            for k, (query, items) in enumerate(zip(queries, best))
        ]

    def _listed(
        self, query: Query, best: np.ndarray, predicted: np.ndarray, strategy: str, scorer: str
    ) -> Recommendations:
        because = self.explain(best, query.items, query.values) if query.explain else None
        return Recommendations(
            item_ids=[plain(v) for v in self.model.item_ids.to_raw(best)],
            titles=[self.names.titles[i] for i in best],
            scores=self.model.scale.clip(predicted[best]).astype(np.float32),
            strategy=strategy,
            scorer=scorer,
            user_id=query.user_id,
            because=because,
            item_indices=best,
            n_ratings_used=len(query.items),
            matched=[match.to_json() for match in query.matched],
        )

    def recommend(
        self,
        query: Query,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Iterable[Any] | None = None,
        explain: bool = True,
        item_filter: ItemFilter | None = None,
    ) -> Recommendations:
        """The top ``n`` items for ``query`` among ``candidates`` passing ``item_filter``."""
        return self.answer(
            self.queries.shaped(query, n, exclude_seen, candidates, explain, item_filter)
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


def recommender_for(model: TrainedModel) -> Recommender:
    """The model's recommender, built on first use and kept with the model (as its predictor is).

    Kept on the model object itself, not in a module-wide table: it lives and dies with
    the model. A server builds and owns its own (:class:`embrec.serving.service.Service`).
    """
    recommender = vars(model).get(RECOMMENDER_ATTRIBUTE)
    if recommender is None or recommender.model is not model:
        recommender = Recommender(model)
        vars(model)[RECOMMENDER_ATTRIBUTE] = recommender
    return recommender
