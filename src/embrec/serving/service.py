"""What the server does, without HTTP: a trained model, its catalogue and a rating store.

Whose ratings answer a request for user ``u``:

* a user the model was trained on, with nothing stored: the trained model;
* a user with stored ratings: everything known about them (the training ratings
  of a known user overlaid by the stored ones, the newer rating winning), folded
  in; so a rating just stored changes the next answer at once;
* anyone else: a :class:`NotFound`.

Either way the request becomes a :class:`~embrec.recommend.query.Query` (a new
user's ratings are read and checked there, once) answered by
:meth:`~embrec.recommend.engine.Recommender.answer`, the path the library and the
CLI take; its JSON is the response as it is.

The model is used under one lock: its caches are built lazily and a network is
not guaranteed to be safe to call from several threads at once. The store is
read and written outside that lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embrec import __version__
from embrec.bundle import TrainedModel
from embrec.errors import EmbrecError, ModelError
from embrec.recommend import recommender_for, similar_items
from embrec.recommend.filters import ItemFilter
from embrec.recommend.query import Query
from embrec.recommend.result import Recommendations, plain
from embrec.serving.catalogue import Catalogue
from embrec.serving.schemas import Limits
from embrec.serving.store import RatingStore

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class NotFound(EmbrecError):
    """A user or item named in a request path that this server does not know."""


class TooLarge(EmbrecError):
    """A request asking for more than the server's limits allow."""


class Unavailable(EmbrecError):
    """A request the server is not set up to answer (no rating store)."""


class Service:
    """Answers the API's questions for one model and (optionally) one rating store."""

    def __init__(
        self, model: TrainedModel, store: RatingStore | None = None, limits: Limits | None = None
    ) -> None:
        self.model = model
        self.store = store
        self.limits = limits or Limits()
        self.catalogue = Catalogue(model.train)
        self.recommender = recommender_for(model)
        self.names = self.recommender.names
        self.queries = self.recommender.queries
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the model's lazy caches (item space, fold-in, average user) before serving."""
        popular = self.catalogue.popular(1)
        with self._lock:
            self.recommender.recommend(Query(None), 1)
            if popular:
                index = np.asarray([popular[0].index])
                top = np.asarray([self.model.scale.high], dtype=np.float32)
                self.recommender.recommend(Query(None, index, top), 1)
                similar_items(self.model, popular[0].item_id, 1)
            if self.model.train.n_users:
                known = self.queries.known(plain(self.model.user_ids.raw_ids[0]))
                self.recommender.recommend(known, 1)

    # -- ids --------------------------------------------------------------------------

    def user_id(self, raw: Any) -> Any:
        """A user id as the model (and the store) type it: ``"42"`` is 42 for integer ids.

        Digits beyond 64 bits cannot name a known user and stay text.
        """
        if isinstance(raw, str) and not raw.strip():
            raise ModelError("a user id must not be blank")
        user_id = plain(self.model.user_ids.coerce(raw))
        if isinstance(user_id, int) and not INT64_MIN <= user_id <= INT64_MAX:
            return str(raw)
        return user_id

    def is_known(self, user_id: Any) -> bool:
        return self.model.user_ids.index_of(user_id) >= 0

    def item_index(self, item: Any, *, in_path: bool = False) -> int:
        """Index of an item given by id or title; NotFound (path) or ModelError (body)."""
        try:
            return self.names.resolve(item)
        except ModelError as error:
            if in_path:
                raise NotFound(str(error)) from None
            raise

    def raw_item(self, index: int) -> Any:
        return plain(self.model.item_ids.to_raw([index])[0])

    # -- catalogue ----------------------------------------------------------------------

    def health(self, details: bool = True) -> dict[str, Any]:
        """The model and catalogue; the store's status, its location and counts with ``details``."""
        train = self.model.train
        scale = self.model.scale
        return {
            "status": "ok",
            "model": self.model.name,
            "embrec_version": __version__,
            "dataset": str(self.model.provenance.get("dataset", train.name)),
            "n_users": train.n_users,
            "n_items": train.n_items,
            "n_train_ratings": len(train),
            "scale": {"low": scale.low, "high": scale.high, "step": scale.step},
            "store": None if self.store is None else self.store_status(details),
        }

    def store_status(self, details: bool) -> dict[str, Any]:
        status = self.store.status()
        return status if details else {"kind": status["kind"]}

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.catalogue.search(query, limit)]

    def item(self, item_id: str) -> dict[str, Any]:
        return self.catalogue.item(self._path_item(item_id)).to_json()

    def _path_item(self, item_id: str) -> int:
        """An item named in a URL path: its id, or failing that its title."""
        index = self.model.item_ids.index_of(item_id)
        return index if index >= 0 else self.item_index(item_id, in_path=True)

    def similar(self, item_id: str, n: int) -> dict[str, Any]:
        index = self._path_item(item_id)
        with self._lock:
            found = similar_items(self.model, self.raw_item(index), n)
        return found.to_json()

    # -- ratings ----------------------------------------------------------------------

    def ratings_query(self, ratings: Mapping[Any, float]) -> Query:
        """A new user's checked query from ``{id or title: rating}`` (:class:`QueryMaker`)."""
        if len(ratings) > self.limits.max_ratings:
            raise TooLarge(
                f"{len(ratings)} ratings in one request; this server takes at most "
                f"{self.limits.max_ratings}, send them in batches"
            )
        return self.queries.from_ratings(ratings)

    def stored_query(self, user_id: Any) -> tuple[Query | None, int]:
        """The query of a user with stored ratings (training ratings overlaid), and their count.

        ``(None, 0)`` when nothing is stored for the user. Stored items this model does not
        have (a store kept across models) are left out.
        """
        stored = self.store.ratings_of(user_id) if self.store is not None else {}
        if not stored:
            return None, 0
        items = self.model.item_ids.indices_of(list(stored))
        values = np.asarray(list(stored.values()), dtype=np.float32)
        known = items >= 0
        return self.queries.overlaid(user_id, items[known], values[known]), len(stored)

    def add_ratings(self, user_raw: str, ratings: Mapping[str, float]) -> dict[str, Any]:
        if self.store is None:
            raise Unavailable(
                "this server keeps no ratings; start it with --db PATH to store them"
            )
        user_id = self.user_id(user_raw)
        query = self.ratings_query(ratings)
        raw_items = [plain(i) for i in self.model.item_ids.to_raw(query.items)]
        written = self.store.add_ratings(user_id, dict(zip(raw_items, query.values.tolist())))
        return {
            "user_id": user_id,
            "stored": written,
            "n_stored_ratings": len(self.store.ratings_of(user_id)),
        }

    # -- recommendations and predictions ----------------------------------------------------

    def _unknown_user(self, user_id: Any) -> str:
        hint = "POST ratings to /users/{id}/ratings or use POST /recommendations"
        return f"user {user_id!r} is not in this model and has no stored ratings; {hint}"

    def user_query(self, user_raw: str) -> Query:
        """A user's query: stored ratings folded in over any training ones, or the trained user."""
        user_id = self.user_id(user_raw)
        query, _ = self.stored_query(user_id)
        if query is not None:
            return query
        if not self.is_known(user_id):
            raise NotFound(self._unknown_user(user_id))
        return self.queries.known(user_id)

    def recommend_user(
        self, user_raw: str, n: int, item_filter: ItemFilter | None = None
    ) -> dict[str, Any]:
        """Top-``n`` for a known user or one with stored ratings."""
        return self.answer(self.user_query(user_raw), n, item_filter)

    def recommend_ratings(
        self, ratings: Mapping[str, float], n: int, item_filter: ItemFilter | None = None
    ) -> dict[str, Any]:
        """Top-``n`` for a new user's ``{id or title: rating}``, echoing what each input matched."""
        return self.answer(self.ratings_query(ratings), n, item_filter)

    def answer(self, query: Query, n: int, item_filter: ItemFilter | None) -> dict[str, Any]:
        return self.answer_many([self.shaped(query, n, item_filter)])[0].to_json()

    def shaped(self, query: Query, n: int, item_filter: ItemFilter | None) -> Query:
        """``query`` asking for ``n`` items that pass ``item_filter``."""
        return self.queries.shaped(query, n, item_filter=item_filter)

    def answer_many(self, queries: Sequence[Query]) -> list[Recommendations]:
        """Shaped queries answered together (:mod:`embrec.serving.batching`)."""
        with self._lock:
            return self.recommender.answer_many(queries)

    def predict(self, pairs: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
        """Predicted ratings for ``(user id, item id or title)`` pairs, in order."""
        if len(pairs) > self.limits.max_pairs:
            raise TooLarge(
                f"{len(pairs)} pairs in one request; this server takes at most "
                f"{self.limits.max_pairs}, send them in batches"
            )
        users = [self.user_id(u) for u, _ in pairs]
        items = [self.raw_item(self.item_index(i)) for _, i in pairs]
        queries = {u: self.stored_query(u)[0] for u in dict.fromkeys(users)}
        for user, query in queries.items():
            if query is None and not self.is_known(user):
                raise ModelError(self._unknown_user(user))
        out: list[dict[str, Any] | None] = [None] * len(pairs)
        plain_rows = [k for k, u in enumerate(users) if queries[u] is None]
        if plain_rows:
            with self._lock:
                found = self.model.predict([users[k] for k in plain_rows],
                                           [items[k] for k in plain_rows])
            for row, record in zip(plain_rows, found.to_records()):
                out[row] = record
        for user, query in queries.items():
            if query is None:
                continue
            rows = [k for k, u in enumerate(users) if u == user]
            wanted = list(dict.fromkeys(items[k] for k in rows))
            with self._lock:
                found = self.recommender.recommend(
                    query, len(wanted), exclude_seen=False, candidates=wanted, explain=False
                )
            scores = dict(zip(found.item_ids, np.asarray(found.scores, dtype=float)))
            for row in rows:
                out[row] = {"user_id": user, "item_id": items[row],
                            "rating": float(scores[items[row]]), "source": found.strategy}
        return [record for record in out if record is not None]
