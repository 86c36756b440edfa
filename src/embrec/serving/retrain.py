"""Folding the ratings a server stored into the next training run (``embrec train --with-store``).

The stored ratings join the training part of the split; the combined ratings
are built over raw ids, as :meth:`Ratings.from_raw` would build them:

* users: the union of the dataset's users and the store's, in sorted id order, so
  a user who exists only in the store gets an index of their own. Ids stay
  integers when every id is one (MovieLens users stored by the server as ``42``);
  if any stored user id is text, every user id becomes text (``"42"``), which
  the server and :meth:`IdMap.coerce` accept either way;
* items: the dataset's item map is kept whole, so the test part (whose items may
  have no training rating) keeps its indices; a stored rating of an item the
  dataset does not have cannot be trained on and is left out, as is one outside
  the dataset's rating scale; both are counted;
* a stored rating of a (user, item) pair the training part already has replaces
  it (the store holds the newer opinion; duplicates merged with ``"last"``); a
  pair in the test part is taken out of the test part, so a stored answer is
  never scored as a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, merge_duplicates
from embrec.errors import DataError
from embrec.serving.store import StoredRating, open_store


@dataclass(frozen=True)
class StoreMerge:
    """The split with the stored ratings folded in, and what happened to them."""

    train: Ratings
    test: Ratings | None
    report: dict[str, Any]

    def describe(self) -> str:
        r = self.report
        return (
            f"rating store {r['path']}: {r['added']:,} of {r['stored']:,} stored ratings added "
            f"to training ({r['new_users']:,} new users, {r['replaced']:,} replacing training "
            f"ratings, {r['unknown_items']:,} of unknown items and {r['off_scale']:,} off the "
            f"scale left out, {r['removed_from_test']:,} taken out of the test part)"
        )


def read_store(path: str | Path) -> list[StoredRating]:
    """Every rating of the store at ``path``, which must exist."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no rating store here", path=path, hint="pass the --db file of the server")
    store = open_store(path)
    try:
        return store.all_ratings()
    finally:
        store.close()


def user_map(train: Ratings, stored_users: list[Any]) -> IdMap:
    """The union of the dataset's and the store's users, sorted; text ids if any is text."""
    dataset_users = train.user_ids.raw_ids.tolist()
    everyone = dataset_users + stored_users
    if all(isinstance(u, int) and not isinstance(u, bool) for u in everyone):
        return IdMap(np.unique(np.asarray(everyone, dtype=np.int64)))
    return IdMap(np.asarray(sorted({str(u) for u in everyone}), dtype=object))


def add_stored_ratings(
    train: Ratings, test: Ratings | None, stored: list[StoredRating], path: str | Path = ""
) -> StoreMerge:
    """``train`` plus the ``stored`` ratings, and ``test`` remapped (see the module docstring)."""
    users_map = user_map(train, [r.user_id for r in stored])
    old_to_new = users_map.indices_of(train.user_ids.raw_ids.tolist())
    store_users = users_map.indices_of([r.user_id for r in stored])
    store_items = train.item_ids.indices_of([r.item_id for r in stored]) if stored else (
        np.empty(0, dtype=np.int64)
    )
    store_values = np.asarray([r.rating for r in stored], dtype=np.float32)
    known_item = store_items >= 0
    on_scale = train.scale.contains(store_values)
    keep = known_item & on_scale
    users = np.concatenate([old_to_new[train.users], store_users[keep]])
    items = np.concatenate([train.items.astype(np.int64), store_items[keep]])
    values = np.concatenate([train.values, store_values[keep]])
    timestamps = None
    if train.timestamps is not None:
        stamps = np.asarray([int(r.rated_at) for r in stored], dtype=np.int64)
        timestamps = np.concatenate([train.timestamps, stamps[keep]])
    users, items, values, timestamps, replaced = merge_duplicates(
        users, items, values, timestamps, train.n_items, "last"
    )
    user_info = None
    if train.user_info is not None:
        user_info = train.user_info.copy()
        user_info.index = old_to_new[np.asarray(user_info.index, dtype=np.int64)]
        user_info = user_info.reindex(np.arange(len(users_map)))
    combined = Ratings(
        users, items, values, users_map, train.item_ids, train.scale,
        timestamps=timestamps, item_info=train.item_info, user_info=user_info,
        name=train.name,
        source={**train.source, "stored_ratings": int(keep.sum()), "rating_store": str(path)},
    )
    removed = 0
    if test is not None:
        test_users = old_to_new[test.users]
        pairs = set(zip(store_users[keep].tolist(), store_items[keep].tolist()))
        in_store = np.fromiter(
            ((u, i) in pairs for u, i in zip(test_users.tolist(), test.items.tolist())),
            dtype=bool, count=len(test),
        )
        removed = int(in_store.sum())
        test = replace(test, user_ids=users_map, users=test_users, user_info=user_info)
        test = test.subset(~in_store)
    report = {
        "path": str(path),
        "stored": len(stored),
        "added": int(keep.sum()),
        "new_users": len(users_map) - train.n_users,
        "replaced": int(replaced),
        "unknown_items": int((~known_item).sum()),
        "off_scale": int((known_item & ~on_scale).sum()),
        "removed_from_test": removed,
    }
    return StoreMerge(combined, test, report)


def with_store(train: Ratings, test: Ratings | None, path: str | Path) -> StoreMerge:
    """:func:`add_stored_ratings` with the ratings of the store file at ``path``."""
    return add_stored_ratings(train, test, read_store(path), path)
