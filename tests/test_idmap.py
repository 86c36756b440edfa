"""IdMap reads as the sequence of raw ids in index order and looks raw ids up like a mapping."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.data.datasets import load_dataset
from embrec.data.idmap import ONE_BY_ONE_LOOKUPS, IdMap
from embrec.errors import DataError


def test_integer_ids_index_slice_iterate_and_look_up():
    ids = IdMap(np.array([10, 3, 7]))
    assert len(ids) == 3 and ids[0] == 10 and ids[-1] == 7
    assert type(ids[1]) is int
    assert ids[1:].tolist() == [3, 7] and ids[::-1].tolist() == [7, 3, 10]
    assert list(ids) == [10, 3, 7] and list(reversed(ids)) == [7, 3, 10]
    assert 7 in ids and 8 not in ids and "7" in ids  # text ids are coerced as from a CLI
    assert ids.index(7) == 2 and ids.get(7) == 2 and ids.get(8) is None and ids.get(8, -1) == -1
    assert ids.count(3) == 1 and ids.count(4) == 0
    assert np.asarray(ids).tolist() == [10, 3, 7]


def test_string_ids_are_python_strings():
    ids = IdMap(["b", "a"])
    assert ids[0] == "b" and type(ids[0]) is str and ids.index("a") == 1
    assert IdMap(ids) == ids  # an IdMap is an iterable of raw ids


def test_out_of_range_unknown_and_wrong_keys_say_what_to_do():
    ids = IdMap(np.array([10, 3, 7]))
    with pytest.raises(IndexError, match="index 3 is outside 0..2"):
        ids[3]
    with pytest.raises(DataError, match="unknown id 5: not among the 3 ids of this map"):
        ids.index(5)
    with pytest.raises(TypeError, match=r"look a raw id up with \.index\(raw_id\)"):
        ids["10"]


@pytest.mark.realdata
def test_ml100k_user_and_item_maps_index_like_the_ratings(data_dir):
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    assert len(ratings.user_ids) == 943 and len(ratings.item_ids) == 1682
    assert ratings.user_ids[3] == 4 and ratings.item_ids[49] == 50  # ids 1.. in sorted order
    star_wars = ratings.item_ids.index(50)
    assert ratings.titles([star_wars]) == ["Star Wars (1977)"]
    first = ratings.users[0]
    assert ratings.user_ids[int(first)] == 196  # u.data's first line: user 196, item 242
    assert ratings.item_ids[int(ratings.items[0])] == 242
    assert sum(1 for _ in ratings.item_ids) == 1682


def test_short_lists_looked_up_one_by_one_agree_with_the_bulk_lookup():
    keys = [1, 3, "3", " 7 ", 3.0, 3.5, None, "x", np.int64(5), -1, 2**70]
    for ids in (IdMap(np.arange(1, 10)), IdMap(np.array(["1", "3", "x", "True"], dtype=object))):
        one_by_one = ids.indices_of(keys[:ONE_BY_ONE_LOOKUPS])
        bulk = ids.indices_of(keys * (ONE_BY_ONE_LOOKUPS // len(keys) + 1))[: len(keys)]
        assert one_by_one.tolist() == bulk.tolist()
        assert [ids.index_of(k) for k in keys] == bulk.tolist()
        assert ids.index_of([1]) == -1 and ids.index_of((1,)) == -1
    assert IdMap(np.arange(1, 10)).indices_of([3, "3", 3.5, True]).tolist() == [2, 2, -1, -1]
