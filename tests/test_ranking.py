"""Top-N ranking metrics: hand-computed examples, edge cases and a reference loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.errors import ConfigError, DataError, ModelError
from embrec.evaluation import (
    evaluate_ranking,
    popularity_scorer,
    random_scorer,
    top_k_unseen,
)


def make_ratings(triples, n_users: int, n_items: int, name: str = "ratings") -> Ratings:
    users, items, values = (np.array(column) for column in zip(*triples))
    return Ratings(
        users, items, values, IdMap(np.arange(n_users)), IdMap(np.arange(n_items)),
        RatingScale(1.0, 5.0, 1.0), name=name,
    )


def fixed_scorer(scores: np.ndarray, calls: list | None = None):
    def score_users(user_indices: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(np.asarray(user_indices).tolist())
        return scores[user_indices]

    return score_users


# The hand example: 3 users, 6 items, k = 3, threshold 4.
#
#   train: user 0 rated items 0, 1;  user 1 rated item 5;  user 2 rated item 0
#   test:  user 0: item 2 -> 5, item 4 -> 4, item 5 -> 2   relevant {2, 4}
#          user 1: item 0 -> 4, item 3 -> 5, item 1 -> 1   relevant {0, 3}
#          user 2: item 1 -> 3                             relevant {}  (left out)
#
#   scores      item: 0  1  2  3  4  5
#          user 0:    9  8  7  1  5  6   train items 0, 1 removed -> top-3 [2, 5, 4], rel [1, 0, 1]
#          user 1:    1  2  3  4  5  6   train item 5 removed     -> top-3 [4, 3, 2], rel [0, 1, 0]
#
#   user 0: P@3 = 2/3   R@3 = 2/2 = 1
#           DCG  = 1/log2(2) + 1/log2(4) = 1 + 1/2 = 1.5
#           IDCG = 1/log2(2) + 1/log2(3)  (min(3, |R|) = 2 positions) = 1.6309298
#           NDCG = 1.5 / 1.6309298 = 0.9197207
#           AP@3 = (1/2) (P@1 + P@3) = (1/2) (1 + 2/3) = 5/6
#   user 1: P@3 = 1/3   R@3 = 1/2
#           DCG  = 1/log2(3) = 0.6309298;  NDCG = 0.6309298 / 1.6309298 = 0.3868528
#           AP@3 = (1/2) P@2 = (1/2)(1/2) = 1/4
#   means over the 2 evaluated users:
#           P = 1/2, R = 3/4, NDCG = 0.6532868, MAP = 13/24, hit rate = 1
#   coverage: {2, 5, 4} | {4, 3, 2} = {2, 3, 4, 5} -> 4/6
TRAIN = make_ratings([(0, 0, 5), (0, 1, 3), (1, 5, 4), (2, 0, 2)], 3, 6, "train")
TEST = make_ratings(
    [(0, 2, 5), (0, 4, 4), (0, 5, 2), (1, 0, 4), (1, 3, 5), (1, 1, 1), (2, 1, 3)], 3, 6, "test"
)
SCORES = np.array(
    [
        [9, 8, 7, 1, 5, 6],
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
    ],
    dtype=np.float64,
)
IDCG_2 = 1 + 1 / math.log2(3)


def test_hand_example_metrics_at_3():
    result = evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=3)
    ndcg_user0 = 1.5 / IDCG_2
    ndcg_user1 = (1 / math.log2(3)) / IDCG_2
    assert result.precision == pytest.approx(1 / 2, abs=1e-12)
    assert result.recall == pytest.approx(3 / 4, abs=1e-12)
    assert result.ndcg == pytest.approx((ndcg_user0 + ndcg_user1) / 2, abs=1e-12)
    assert result.ndcg == pytest.approx(0.6532868, abs=1e-7)
    assert result.map == pytest.approx(13 / 24, abs=1e-12)
    assert result.hit_rate == 1.0
    assert result.coverage == pytest.approx(4 / 6, abs=1e-12)
    assert result.n_users_evaluated == 2
    assert result.n_users_without_relevant == 1
    assert (result.k, result.threshold) == (3, 4.0)


def test_hand_example_at_1_normalises_by_min_k_relevant():
    # k = 1 < |R| = 2 for both users. Top-1: user 0 -> [2] (relevant), user 1 -> [4] (not).
    #   AP@1 = 1 / min(1, 2) = 1 and 0 -> MAP = 1/2 (dividing by |R| would give 1/4)
    #   NDCG@1: IDCG = 1/log2(2) = 1 -> 1 and 0 -> 1/2
    #   P@1 = (1 + 0) / 2 = 1/2,  R@1 = (1/2 + 0) / 2 = 1/4,  hit rate = 1/2, coverage 2/6
    result = evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=1)
    assert result.map == pytest.approx(1 / 2, abs=1e-12)
    assert result.ndcg == pytest.approx(1 / 2, abs=1e-12)
    assert result.precision == pytest.approx(1 / 2, abs=1e-12)
    assert result.recall == pytest.approx(1 / 4, abs=1e-12)
    assert result.hit_rate == pytest.approx(1 / 2, abs=1e-12)
    assert result.coverage == pytest.approx(2 / 6, abs=1e-12)


def test_hand_example_top_lists_skip_train_items():
    top, valid = top_k_unseen(SCORES[:2], TRAIN.to_csr()[:2], 3)
    assert top.tolist() == [[2, 5, 4], [4, 3, 2]]
    assert valid.all()


def test_users_without_relevant_items_are_never_scored():
    calls: list = []
    evaluate_ranking(fixed_scorer(SCORES, calls), TRAIN, TEST, k=3)
    assert calls == [[0, 1]]


def test_k_larger_than_candidates_pads_with_nothing():
    # k = 10 > 6 items. User 0 has 4 candidates, ranked [2, 5, 4, 3] -> rel [1, 0, 1, 0]:
    #   P@10 = 2/10, R@10 = 1, NDCG = 1.5 / IDCG_2 (ideal over min(10, 2) = 2), AP = 5/6
    # User 1 has 5 candidates, ranked [4, 3, 2, 1, 0] -> rel [0, 1, 0, 0, 1]:
    #   P@10 = 2/10, R@10 = 1, DCG = 1/log2(3) + 1/log2(6), AP = (1/2)(1/2 + 2/5) = 9/20
    # Coverage: every candidate of either user appears: {0, 1, 2, 3, 4, 5} -> 1.
    result = evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=10)
    dcg_user1 = 1 / math.log2(3) + 1 / math.log2(6)
    assert result.precision == pytest.approx(0.2, abs=1e-12)
    assert result.recall == pytest.approx(1.0, abs=1e-12)
    assert result.ndcg == pytest.approx((1.5 / IDCG_2 + dcg_user1 / IDCG_2) / 2, abs=1e-12)
    assert result.map == pytest.approx((5 / 6 + 9 / 20) / 2, abs=1e-12)
    assert result.coverage == 1.0

    top, valid = top_k_unseen(SCORES[:1], TRAIN.to_csr()[:1], 10)
    assert top.shape == (1, 6)
    assert top[valid].tolist() == [2, 5, 4, 3]
    assert valid.tolist() == [[True, True, True, True, False, False]]


def test_ties_are_broken_by_item_index():
    # All scores equal: the candidates of user 0 (2, 3, 4, 5) come in index order.
    flat = np.zeros((1, 6))
    top, _ = top_k_unseen(flat, TRAIN.to_csr()[:1], 3)
    assert top.tolist() == [[2, 3, 4]]
    # A tie across the cut: items 1, 3, 4 share the 2nd best score; 1 and 3 make the list.
    scores = np.array([[0.0, 5.0, 9.0, 5.0, 5.0, 1.0]])
    top, _ = top_k_unseen(scores, TRAIN.to_csr()[2:3], 3)
    assert top.tolist() == [[2, 1, 3]]


def test_candidates_scored_minus_infinity_still_beat_train_items():
    scores = np.array([[np.inf, 3.0, -np.inf, -np.inf, 2.0, -np.inf]])
    top, valid = top_k_unseen(scores, TRAIN.to_csr()[:1], 6)
    assert top[valid].tolist() == [4, 2, 3, 5]
    assert set(top[~valid].tolist()) == {0, 1}


def test_scores_are_not_modified():
    scores = SCORES.copy()
    evaluate_ranking(fixed_scorer(scores), TRAIN, TEST, k=3)
    np.testing.assert_array_equal(scores, SCORES)


def test_result_to_dict_is_json():
    payload = evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=3).to_dict()
    assert set(payload) == {
        "precision", "recall", "ndcg", "map", "hit_rate", "coverage",
        "n_users_evaluated", "n_users_without_relevant", "k", "threshold",
    }
    json.dumps(payload)


def test_bad_inputs_raise_embrec_errors():
    with pytest.raises(ConfigError, match="k must be at least 1"):
        evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=0)
    with pytest.raises(ModelError, match=r"expected \(2, 6\)"):
        evaluate_ranking(fixed_scorer(SCORES[:, :5]), TRAIN, TEST, k=3)
    nan_scores = SCORES.copy()
    nan_scores[0, 3] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        evaluate_ranking(fixed_scorer(nan_scores), TRAIN, TEST, k=3)
    wider = make_ratings([(0, 6, 5)], 3, 7)
    with pytest.raises(DataError, match="split both from the same Ratings"):
        evaluate_ranking(fixed_scorer(SCORES), TRAIN, wider, k=3)
    with pytest.raises(DataError, match="lower the threshold"):
        evaluate_ranking(fixed_scorer(SCORES), TRAIN, TEST, k=3, threshold=5.5)


def test_popularity_scorer_counts_train_ratings():
    train = make_ratings([(0, 0, 5), (1, 0, 2), (2, 0, 4), (0, 2, 4), (1, 2, 5), (2, 3, 1)], 3, 5)
    scores = popularity_scorer(train)(np.array([0, 2]))
    assert scores.tolist() == [[3, 0, 2, 1, 0]] * 2
    liked = popularity_scorer(train, min_rating=4)(np.array([1]))
    assert liked.tolist() == [[2, 0, 2, 0, 0]]


def test_random_scorer_is_a_fixed_function_of_user_and_item():
    score = random_scorer(50, seed=3)
    together = score(np.arange(10))
    apart = np.vstack([score(np.arange(5)), score(np.arange(5, 10))])
    np.testing.assert_array_equal(together, apart)
    assert together.shape == (10, 50)
    assert together.min() >= 0 and together.max() < 1
    assert not np.array_equal(together, random_scorer(50, seed=4)(np.arange(10)))


# -- against a plain per-user loop --------------------------------------------------------


def reference_metrics(scores, train: Ratings, test: Ratings, k: int, threshold: float) -> dict:
    """The metrics written out one user at a time, straight from their definitions."""
    seen = {u: set() for u in range(train.n_users)}
    for u, i in zip(train.users.tolist(), train.items.tolist()):
        seen[u].add(i)
    relevant = {u: set() for u in range(test.n_users)}
    for u, i, r in zip(test.users.tolist(), test.items.tolist(), test.values.tolist()):
        if r >= threshold and i not in seen[u]:
            relevant[u].add(i)
    sums = dict.fromkeys(["precision", "recall", "ndcg", "map", "hit_rate"], 0.0)
    covered: set[int] = set()
    users = [u for u in range(test.n_users) if relevant[u]]
    for u in users:
        candidates = [i for i in range(train.n_items) if i not in seen[u]]
        ranked = sorted(candidates, key=lambda i: (-scores[u, i], i))[:k]
        covered.update(ranked)
        rel = [1 if i in relevant[u] else 0 for i in ranked]
        n_rel = len(relevant[u])
        hits = sum(rel)
        dcg = sum(r / math.log2(j + 2) for j, r in enumerate(rel))
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, n_rel)))
        ap = sum(sum(rel[: j + 1]) / (j + 1) for j, r in enumerate(rel) if r) / min(k, n_rel)
        sums["precision"] += hits / k
        sums["recall"] += hits / n_rel
        sums["ndcg"] += dcg / idcg
        sums["map"] += ap
        sums["hit_rate"] += hits > 0
    result = {name: total / len(users) for name, total in sums.items()}
    result["coverage"] = len(covered) / train.n_items
    result["n_users_evaluated"] = len(users)
    return result


def random_split(rng, n_users: int, n_items: int, n_ratings: int) -> tuple[Ratings, Ratings]:
    keys = rng.choice(n_users * n_items, size=n_ratings, replace=False)
    users, items = keys // n_items, keys % n_items
    values = rng.integers(1, 6, size=n_ratings)
    in_test = rng.random(n_ratings) < 0.25
    scale = RatingScale(1.0, 5.0, 1.0)
    user_ids, item_ids = IdMap(np.arange(n_users)), IdMap(np.arange(n_items))
    train = Ratings(users[~in_test], items[~in_test], values[~in_test], user_ids, item_ids, scale)
    test = Ratings(users[in_test], items[in_test], values[in_test], user_ids, item_ids, scale)
    return train, test


@pytest.mark.parametrize("k", [1, 10, 50])
def test_vectorised_metrics_equal_a_reference_loop(k):
    rng = np.random.default_rng(k)
    train, test = random_split(rng, 200, 300, 12_000)
    # Coarse scores create many ties, so tie-breaking is compared as well.
    scores = np.round(rng.normal(size=(200, 300)), 1)
    result = evaluate_ranking(fixed_scorer(scores), train, test, k=k, batch_size=64).to_dict()
    expected = reference_metrics(scores, train, test, k, 4.0)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-9), name


def test_batch_size_does_not_change_results():
    rng = np.random.default_rng(7)
    train, test = random_split(rng, 120, 80, 3000)
    scorer = random_scorer(80, seed=1)
    whole = evaluate_ranking(scorer, train, test, k=5, batch_size=1024).to_dict()
    small = evaluate_ranking(scorer, train, test, k=5, batch_size=7).to_dict()
    for name, value in whole.items():
        assert small[name] == pytest.approx(value, abs=1e-12), name


def test_train_items_are_never_recommended_on_random_data():
    rng = np.random.default_rng(11)
    train, _ = random_split(rng, 100, 60, 3000)
    # Train items get the best scores, so any leak through the mask would show.
    scores = rng.random((100, 60)) + train.to_csr().toarray() * 100
    top, valid = top_k_unseen(scores, train.to_csr(), 20)
    rated = train.to_csr().toarray() > 0
    assert not np.take_along_axis(rated, top, axis=1)[valid].any()


def test_popularity_beats_random_on_popularity_skewed_data():
    # Item i is picked with probability ∝ (i + 1)^-1.2 and liked more often when popular,
    # so the most-rated train items are the likeliest relevant test items.
    rng = np.random.default_rng(5)
    n_users, n_items, per_user = 300, 400, 40
    popularity = (np.arange(n_items) + 1.0) ** -1.2
    popularity /= popularity.sum()
    items = np.concatenate(
        [rng.choice(n_items, size=per_user, replace=False, p=popularity) for _ in range(n_users)]
    )
    users = np.repeat(np.arange(n_users), per_user)
    like = 0.3 + 0.6 * (popularity[items] / popularity.max()) ** 0.25
    values = np.where(rng.random(len(items)) < like, rng.integers(4, 6, len(items)),
                      rng.integers(1, 4, len(items)))
    in_test = rng.random(len(items)) < 0.2
    scale = RatingScale(1.0, 5.0, 1.0)
    user_ids, item_ids = IdMap(np.arange(n_users)), IdMap(np.arange(n_items))
    train = Ratings(users[~in_test], items[~in_test], values[~in_test], user_ids, item_ids, scale)
    test = Ratings(users[in_test], items[in_test], values[in_test], user_ids, item_ids, scale)

    popular = evaluate_ranking(popularity_scorer(train), train, test, k=10)
    chance = evaluate_ranking(random_scorer(n_items, seed=0), train, test, k=10)
    assert popular.n_users_evaluated == chance.n_users_evaluated > 200
    assert popular.ndcg > 2 * chance.ndcg
    assert popular.precision > chance.precision
    assert popular.coverage < chance.coverage
