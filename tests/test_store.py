"""The rating store: SQLite file on first use, latest rating wins, schema versioned, threads,
and folding stored ratings into the next training run (``embrec train --with-store``)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading

import numpy as np
import pytest

from embrec.bundle import load
from embrec.cli import main
from embrec.serving.retrain import add_stored_ratings
from embrec.serving.store import (
    SCHEMA_VERSION,
    RatingStore,
    SQLiteRatingStore,
    StoredRating,
    StoreError,
    open_store,
)


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "sub" / "ratings.sqlite")
    yield opened
    opened.close()


def test_the_file_is_created_on_first_use_in_wal_mode_with_a_schema_version(tmp_path):
    path = tmp_path / "new" / "ratings.sqlite"
    assert not path.exists()
    with SQLiteRatingStore(path) as store:
        assert path.is_file()
        status = store.status()
    assert status["kind"] == "sqlite" and status["journal_mode"] == "wal"
    assert status["schema_version"] == SCHEMA_VERSION and status["n_ratings"] == 0
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "1"
    raw.close()


def test_the_sqlite_store_is_a_rating_store(store):
    assert isinstance(store, RatingStore)


def test_ratings_round_trip_and_the_latest_rating_of_a_pair_wins(store):
    assert store.add_ratings(42, {50: 5, 181: 4.5}) == 2
    assert store.add_ratings("alice", {"Star Wars": 3}) == 1
    assert store.add_ratings(42, {50: 2}) == 1
    assert store.ratings_of(42) == {181: 4.5, 50: 2.0}
    assert store.ratings_of("alice") == {"Star Wars": 3.0}
    assert store.ratings_of("42") == {}
    assert store.ratings_of("nobody") == {}
    assert set(store.users()) == {42, "alice"}
    everything = store.all_ratings()
    assert len(everything) == 3 and all(isinstance(r, StoredRating) for r in everything)
    assert everything[-1].user_id == 42 and everything[-1].item_id == 50
    assert store.status()["n_ratings"] == 3 and store.status()["n_users"] == 2


def test_ratings_survive_closing_and_reopening(tmp_path):
    path = tmp_path / "ratings.sqlite"
    with open_store(path) as first:
        first.add_ratings(1, {2: 3.0})
    with open_store(path) as second:
        assert second.ratings_of(1) == {2: 3.0}


@pytest.mark.parametrize(
    ("user", "ratings", "message"),
    [
        (1, {2: math.nan}, "not a finite number"),
        (1, {2: True}, "not a number"),
        (1, {2: "4"}, "not a number"),
        (True, {2: 4}, "integer or a string"),
        ("  ", {2: 4}, "must not be empty"),
        (1, {2.5: 4}, "integer or a string"),
    ],
)
def test_bad_values_are_refused_with_a_reason(store, user, ratings, message):
    with pytest.raises(StoreError, match=message):
        store.add_ratings(user, ratings)
    assert store.status()["n_ratings"] == 0


def test_a_newer_schema_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "ratings.sqlite"
    open_store(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match=r"schema 2 is newer .* upgrade embrec"):
        open_store(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "ratings.sqlite"
    path.write_text("these are not the ratings you are looking for\n" * 100)
    with pytest.raises(StoreError, match="not a usable rating store"):
        open_store(path)


def test_a_closed_store_says_so(tmp_path):
    store = open_store(tmp_path / "r.sqlite")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ratings_of(1)


def test_power_loss_durability_is_a_choice(tmp_path):
    with open_store(tmp_path / "r.sqlite", synchronous="full") as store:
        assert store.status()["synchronous"] == "full"
    with pytest.raises(StoreError, match="choose one of NORMAL, FULL"):
        open_store(tmp_path / "r.sqlite", synchronous="OFF")


def test_threads_and_a_second_connection_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "ratings.sqlite"
    stores = [open_store(path), open_store(path)]
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for k in range(40):
                stores[worker % 2].add_ratings(f"user{worker}", {k: float(k % 5 + 1)})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert stores[0].status()["n_ratings"] == 6 * 40
    assert stores[1].ratings_of("user3") == {k: float(k % 5 + 1) for k in range(40)}
    for store in stores:
        store.close()


# -- folding the store into training ------------------------------------------------------


def stored(user, item, rating):
    return StoredRating(user, item, float(rating), 1_000_000_000.0)


def test_stored_ratings_join_training_with_new_users_and_replace_older_ones(u1):
    train, test = u1.train, u1.test
    user1_items = train.item_ids.to_raw(train.items[train.users == train.user_ids.index_of(1)])
    old_item = int(user1_items[0])
    test_user = int(test.user_ids.to_raw([test.users[0]])[0])
    test_item = int(test.item_ids.to_raw([test.items[0]])[0])
    rows = [
        stored(9999, 50, 5), stored(9999, 181, 4),        # a new user
        stored(1, old_item, 1),                              # replaces a training rating
        stored(test_user, test_item, 3),                     # a pair of the test part
        stored(1, 999_999, 4),                               # an item the data does not have
        stored(1, 50, 9),                                    # off the rating scale
    ]
    merged = add_stored_ratings(train, test, rows, "store.sqlite")
    report = merged.report
    assert report["added"] == 4 and report["new_users"] == 1 and report["replaced"] == 1
    assert report["unknown_items"] == 1 and report["off_scale"] == 1
    assert report["removed_from_test"] == 1
    new = merged.train
    assert new.user_ids.is_integer and new.n_users == train.n_users + 1
    assert new.item_ids is train.item_ids and new.item_info is train.item_info
    assert len(new) == len(train) + 4 - 1
    assert merged.test.user_ids is new.user_ids and len(merged.test) == len(test) - 1
    user = new.user_ids.index_of(1)
    row = (new.users == user) & (new.items == train.item_ids.index_of(old_item))
    assert new.values[row].tolist() == [1.0]
    newcomer = new.users == new.user_ids.index_of(9999)
    assert sorted(new.item_ids.to_raw(new.items[newcomer]).tolist()) == [50, 181]
    kept_test = merged.test
    same_users = kept_test.user_ids.to_raw(kept_test.users)
    np.testing.assert_array_equal(same_users[:5], test.user_ids.to_raw(test.users[1:6]))


def test_a_text_user_id_makes_every_user_id_text(u1):
    merged = add_stored_ratings(u1.train, u1.test, [stored("alice", 50, 5)])
    ids = merged.train.user_ids
    assert not ids.is_integer and ids.index_of("alice") >= 0 and ids.index_of(1) >= 0


def test_train_with_store_trains_on_the_stored_ratings(data_dir, tmp_path, capsys):
    db = tmp_path / "ratings.sqlite"
    with open_store(db) as store:
        store.add_ratings("newcomer", {50: 5, 172: 5, 181: 5})
    out = tmp_path / "model"
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--model", "baseline", "--out", str(out), "--with-store", str(db), "--json"])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert "3 of 3 stored ratings added to training (1 new users" in stdout
    assert json.loads(stdout.strip().splitlines()[-1])["model_dir"] == str(out)
    model = load(out)
    assert model.user_ids.index_of("newcomer") >= 0
    assert model.provenance["rating_store"]["added"] == 3
    assert model.predict(["newcomer"], [50]).source == ["model"]


def test_train_with_a_missing_store_exits_2(data_dir, tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--model", "baseline", "--out", str(tmp_path / "m"),
                 "--with-store", str(tmp_path / "missing.sqlite")])
    assert code == 2
    assert "no rating store here" in capsys.readouterr().err
