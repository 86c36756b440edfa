"""Splits: sizes, disjointness, cold-start reports, spec parsing, the official MovieLens folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.data.splits import (
    PREDEFINED_FOLDS,
    Split,
    holdout_validation,
    kfold,
    kfold_split,
    leave_k_out,
    make_split,
    parse_split_spec,
    predefined_split,
    random_split,
    split_by_mask,
    temporal_split,
)
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError, DataError


def keys(ratings: Ratings) -> np.ndarray:
    return ratings.users.astype(np.int64) * ratings.n_items + ratings.items


def assert_is_partition(split: Split, full: Ratings) -> None:
    train, test = keys(split.train), keys(split.test)
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.sort(keys(full)))


@pytest.fixture(scope="module")
def ratings() -> Ratings:
    return generate_ratings(120, 80, 3003, seed=5)


def tiny(users, items, timestamps=None) -> Ratings:
    users, items = np.asarray(users), np.asarray(items)
    return Ratings(
        users, items, np.arange(len(users)) % 5 + 1.0,
        IdMap(np.arange(1, users.max() + 2)), IdMap(np.arange(1, items.max() + 2)),
        RatingScale(1, 5, 1), timestamps=timestamps, name="tiny",
    )


def test_random_split_takes_the_fraction_and_partitions(ratings):
    split = random_split(ratings, 0.2, seed=1)
    assert len(split.test) == round(0.2 * len(ratings))
    assert_is_partition(split, ratings)
    assert split.train.user_ids is ratings.user_ids and split.test.item_ids is ratings.item_ids
    assert split.name == "random:0.2" and split.seed == 1


def test_random_split_is_seeded(ratings):
    a, b, c = (random_split(ratings, 0.2, seed=s) for s in (1, 1, 2))
    assert np.array_equal(keys(a.test), keys(b.test))
    assert not np.array_equal(keys(a.test), keys(c.test))


def test_split_keeps_file_order(ratings):
    split = random_split(ratings, 0.3, seed=0)
    position = pd.Series(np.arange(len(ratings)), index=keys(ratings))
    assert np.all(np.diff(position[keys(split.train)].to_numpy()) > 0)
    assert np.all(np.diff(position[keys(split.test)].to_numpy()) > 0)


def test_kfold_tests_partition_the_data(ratings):
    folds = list(kfold(ratings, k=5, seed=3))
    assert [f.name for f in folds] == [f"kfold:5:{i}" for i in range(1, 6)]
    tests = np.concatenate([keys(f.test) for f in folds])
    assert np.array_equal(np.sort(tests), np.sort(keys(ratings)))
    sizes = [len(f.test) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for fold in folds:
        assert_is_partition(fold, ratings)
    assert np.array_equal(keys(kfold_split(ratings, 5, 2, seed=3).test), keys(folds[1].test))


def test_kfold_rejects_bad_k(ratings):
    with pytest.raises(ConfigError, match="k >= 2"):
        next(kfold(ratings, k=1))
    with pytest.raises(ConfigError, match="fold must be 1..5"):
        kfold_split(ratings, 5, 6)


def test_temporal_split_tests_on_the_latest_ratings(ratings):
    split = temporal_split(ratings, 0.1)
    assert len(split.test) == round(0.1 * len(ratings))
    assert split.test.timestamps.min() >= split.train.timestamps.max()
    assert_is_partition(split, ratings)


def test_temporal_user_split_tests_on_each_users_latest(ratings):
    split = temporal_split(ratings, 0.25, per_user=True)
    assert_is_partition(split, ratings)
    assert split.cold_users == 0
    train = pd.DataFrame({"u": split.train.users, "t": split.train.timestamps})
    test = pd.DataFrame({"u": split.test.users, "t": split.test.timestamps})
    latest_train = train.groupby("u")["t"].max()
    assert (test["t"].to_numpy() >= latest_train[test["u"]].to_numpy()).all()
    counts = np.bincount(ratings.users)
    expected = np.minimum(np.floor(0.25 * counts + 0.5), counts - 1).sum()
    assert len(split.test) == expected


def test_temporal_split_needs_timestamps():
    with pytest.raises(DataError, match="needs timestamps"):
        temporal_split(tiny([0, 1, 2], [0, 1, 2]), 0.5)


def test_leave_k_out_takes_k_per_user(ratings):
    split = leave_k_out(ratings, k=2, seed=4)
    assert_is_partition(split, ratings)
    per_user = np.bincount(split.test.users, minlength=ratings.n_users)
    counts = ratings.user_counts()
    assert np.array_equal(per_user, np.where(counts > 2, 2, 0))
    assert split.cold_users == 0
    assert np.array_equal(keys(leave_k_out(ratings, k=2, seed=4).test), keys(split.test))


def test_holdout_validation_comes_from_train_only(ratings):
    outer = random_split(ratings, 0.2, seed=0)
    inner = holdout_validation(outer.train, 0.1, seed=0)
    assert len(inner.test) == round(0.1 * len(outer.train))
    assert_is_partition(inner, outer.train)
    assert len(np.intersect1d(keys(inner.test), keys(outer.test))) == 0
    assert inner.name == "validation:0.1"


def test_cold_users_and_items_are_reported_not_dropped():
    # user 3 and item 4 occur only in the test part
    data = tiny([0, 0, 1, 1, 2, 3, 3, 2], [0, 1, 0, 2, 1, 0, 4, 4])
    test_mask = np.array([0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    split = split_by_mask(data, test_mask, "hand")
    assert (split.cold_users, split.cold_items, split.cold_test_ratings) == (1, 1, 3)
    assert len(split.test) == 3 and len(split.warm_test()) == 0
    report = split.report()
    assert report["n_train"] == 5 and report["cold_users"] == 1 and report["test_users"] == 2


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("random:0.2", "random:0.2"), ("U1", "u1"), ("ua", "ua"), ("ub", "ub"), ("r5", "r5"),
        ("kfold:5:1", "kfold:5:1"), ("temporal:0.1", "temporal:0.1"),
        ("temporal-user:0.1", "temporal-user:0.1"), ("leave:1", "leave:1"),
    ],
)
def test_parse_split_spec_accepts_the_documented_forms(spec, canonical):
    assert str(parse_split_spec(spec)) == canonical


@pytest.mark.parametrize(
    "spec", ["", "random", "random:1.5", "random:x", "kfold:5", "kfold:5:6", "kfold:1:1",
             "leave:0", "u6", "temporal:0", "holdout:0.2"],
)
def test_bad_split_specs_list_the_accepted_forms(spec):
    with pytest.raises(ConfigError, match="accepted forms: random:F"):
        parse_split_spec(spec)


def test_make_split_dispatches_on_the_spec(ratings):
    assert len(make_split(ratings, "random:0.1", seed=2).test) == round(0.1 * len(ratings))
    assert make_split(ratings, "kfold:4:2", seed=2).name == "kfold:4:2"
    assert make_split(ratings, "leave:1").name == "leave:1"
    assert make_split(ratings, "temporal-user:0.2").name == "temporal-user:0.2"


def test_block_folds_split_the_file_order_with_the_remainder_in_the_last(ratings):
    n = len(ratings)  # 3003 = 5 * 600 + 3
    tests = [predefined_split(ratings, f"r{k}", derive=True).test for k in range(1, 6)]
    assert [len(t) for t in tests] == [600, 600, 600, 600, 603]
    assert np.array_equal(keys(tests[0]), keys(ratings)[:600])
    assert np.array_equal(keys(tests[4]), keys(ratings)[2400:])
    assert np.array_equal(np.sort(np.concatenate([keys(t) for t in tests])), np.sort(keys(ratings)))
    assert n == 3003


def test_per_user_folds_take_each_users_first_and_next_ten(ratings):
    first = predefined_split(ratings, "ra", derive=True)
    second = predefined_split(ratings, "rb", derive=True)
    counts = ratings.user_counts()
    assert np.array_equal(first.test.user_counts(), np.minimum(counts, 10))
    assert np.array_equal(second.test.user_counts(), np.clip(counts - 10, 0, 10))
    user = int(np.argmax(counts))
    rows = np.flatnonzero(ratings.users == user)
    assert np.array_equal(keys(first.test)[first.test.users == user], keys(ratings)[rows[:10]])


def test_predefined_fold_of_another_dataset_is_refused():
    data = tiny([0, 1, 2], [0, 1, 2])
    from dataclasses import replace

    with pytest.raises(ConfigError, match="fold of ml-100k, not of ml-latest-small"):
        predefined_split(replace(data, name="ml-latest-small"), "u1", derive=True)


def test_fold_file_lines_not_in_the_ratings_are_named(tmp_path, ratings):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    frame = pd.DataFrame({
        "u": ratings.user_ids.to_raw(ratings.users), "i": ratings.item_ids.to_raw(ratings.items),
        "r": ratings.values.astype(int), "t": ratings.timestamps,
    })
    frame.to_csv(folder / "u.data", sep="\t", header=False, index=False)
    bogus = frame.iloc[:3].copy()
    bogus.iloc[2, 1] = 99999
    bogus.to_csv(folder / "u1.test", sep="\t", header=False, index=False)
    with pytest.raises(DataError, match=r"u1\.test:3: user \d+ item 99999 is not in the ratings"):
        predefined_split(ratings, "u1", data_dir=tmp_path)


# -- the real ml-100k folds -------------------------------------------------------------

ML100K_FOLDS = [name for name, fold in PREDEFINED_FOLDS.items() if fold.dataset == "ml-100k"]


@pytest.fixture(scope="module")
def ml100k(data_dir) -> Ratings:
    from embrec.data.datasets import load_dataset

    return load_dataset("ml-100k", data_dir=data_dir)


@pytest.fixture(scope="module")
def fold_splits(ml100k, data_dir) -> dict[str, Split]:
    return {name: predefined_split(ml100k, name, data_dir=data_dir) for name in ML100K_FOLDS}


def read_raw_pairs(path) -> set[tuple[int, int]]:
    frame = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1])
    return set(zip(frame[0].tolist(), frame[1].tolist(), strict=True))


def raw_pairs(ratings: Ratings) -> set[tuple[int, int]]:
    users = ratings.user_ids.to_raw(ratings.users).tolist()
    items = ratings.item_ids.to_raw(ratings.items).tolist()
    return set(zip(users, items, strict=True))


@pytest.mark.realdata
def test_fold_files_are_read_as_they_are(fold_splits, data_dir):
    for name in ("u1", "ua"):
        folder = data_dir / "ml-100k"
        assert raw_pairs(fold_splits[name].test) == read_raw_pairs(folder / f"{name}.test")
        assert raw_pairs(fold_splits[name].train) == read_raw_pairs(folder / f"{name}.base")


@pytest.mark.realdata
def test_u1_to_u5_test_sets_partition_u_data(fold_splits, ml100k):
    tests = [keys(fold_splits[f"u{k}"].test) for k in range(1, 6)]
    assert all(len(t) == 20_000 for t in tests)
    union = np.concatenate(tests)
    assert len(np.unique(union)) == 100_000
    assert np.array_equal(np.sort(union), np.sort(keys(ml100k)))


@pytest.mark.realdata
def test_each_fold_base_and_test_are_disjoint_and_equal_u_data(fold_splits, ml100k):
    for split in fold_splits.values():
        assert_is_partition(split, ml100k)
    assert len(fold_splits["u1"].train) == 80_000
    assert len(fold_splits["ua"].train) == 90_570 and len(fold_splits["ua"].test) == 9_430


@pytest.mark.realdata
def test_derived_folds_equal_the_split_files(fold_splits, ml100k):
    for name, split in fold_splits.items():
        derived = predefined_split(ml100k, name, derive=True)
        assert np.array_equal(keys(derived.test), keys(split.test)), name
        assert np.array_equal(keys(derived.train), keys(split.train)), name


@pytest.mark.realdata
def test_folds_are_derived_when_only_u_data_is_there(tmp_path, fold_splits, ml100k, data_dir):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").symlink_to(data_dir / "ml-100k" / "u.data")
    for name in ("u3", "ub"):
        derived = predefined_split(ml100k, name, data_dir=tmp_path)
        assert np.array_equal(keys(derived.test), keys(fold_splits[name].test)), name


@pytest.mark.realdata
def test_ua_and_ub_hold_ten_test_ratings_per_user(fold_splits):
    for name in ("ua", "ub"):
        per_user = fold_splits[name].test.user_counts()
        assert len(per_user) == 943 and (per_user == 10).all(), name
        assert fold_splits[name].cold_users == 0


def test_ml10m_fold_files_are_read_with_their_double_colon_separator(tmp_path):
    from embrec.data.datasets import load_source

    synthetic = generate_ratings(60, 40, 1_203, scale=RatingScale(0.5, 5.0, 0.5), seed=9)
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    lines = [
        f"{u}::{i}::{v:g}::{t}"
        for u, i, v, t in zip(
            synthetic.user_ids.to_raw(synthetic.users), synthetic.item_ids.to_raw(synthetic.items),
            synthetic.values, synthetic.timestamps, strict=True,
        )
    ]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    size = len(lines) // 5  # split_ratings.sh: r2.test is lines size+1 .. 2*size
    (folder / "r2.test").write_text("\n".join(lines[size : 2 * size]) + "\n")
    (folder / "r2.train").write_text("\n".join(lines[:size] + lines[2 * size :]) + "\n")
    ratings = load_source(str(folder))
    from_files = predefined_split(ratings, "r2", data_dir=tmp_path)
    derived = predefined_split(ratings, "r2", derive=True)
    assert len(from_files.test) == size
    assert np.array_equal(keys(from_files.test), keys(derived.test))
    assert np.array_equal(keys(from_files.train), keys(derived.train))
