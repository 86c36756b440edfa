"""EASE and the default top-N scorer: maths, storage, and ranking quality on ml-100k u1."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from embrec.bundle import TrainedModel
from embrec.cli import main
from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, ModelError
from embrec.models.ease import EASE, ease_weights, fit_ease, pick_matrix
from embrec.models.rankers import get_ranker
from embrec.ranking_protocol import evaluate_ranking, popularity_scorer
from embrec.recommend import recommend, recommend_for_ratings, recommend_many
from embrec.recommend.filters import ItemFilter
from embrec.training.fit import fit


def test_ease_weights_are_the_closed_form_with_a_zero_diagonal():
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 12)) < 0.3).astype(np.float64)
    weights = ease_weights(sp.csr_matrix(dense), 5.0)
    inverse = np.linalg.inv(dense.T @ dense + 5.0 * np.eye(12))
    expected = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weights, expected, rtol=1e-4, atol=1e-6)
    assert np.all(np.diag(weights) == 0)


def test_ease_refuses_a_non_positive_lambda():
    with pytest.raises(ConfigError, match="lambda must be positive"):
        ease_weights(sp.csr_matrix(np.eye(3)), 0.0)


@pytest.fixture(scope="module")
def ease(u1):
    return fit_ease(u1.train)


@pytest.fixture(scope="module")
def model(u1):
    return fit(u1.train, "mf-bias", solver="sgd", ranker="ease")


def ndcg(scorer, split) -> float:
    return evaluate_ranking(scorer, split.train, split.test, k=10).ndcg


@pytest.mark.realdata
@pytest.mark.slow
def test_ease_beats_popularity_on_u1_and_records_its_lambda_choice(u1, ease):
    assert set(ease.selection) == {"100", "200", "400", "800"}
    assert ease.selection[f"{ease.lam:g}"] == max(ease.selection.values())
    ease_ndcg = ndcg(ease.scorer(u1.train), u1)
    popular_ndcg = ndcg(popularity_scorer(u1.train), u1)
    assert popular_ndcg == pytest.approx(0.245, abs=0.005)
    assert ease_ndcg > 0.42 > popular_ndcg + 0.15


@pytest.mark.realdata
@pytest.mark.slow
def test_sparse_storage_round_trips_and_stays_close_to_dense(u1, ease):
    sparse = fit_ease(u1.train, lambdas=(ease.lam,), dense_items=100, keep=256)
    assert sp.issparse(sparse.weights) and sparse.weights.nnz == 256 * u1.train.n_items
    back = get_ranker("ease").load(sparse.to_arrays(), sparse.describe())
    users = np.arange(50)
    np.testing.assert_array_equal(back.scorer(u1.train)(users), sparse.scorer(u1.train)(users))
    assert ndcg(sparse.scorer(u1.train), u1) > ndcg(ease.scorer(u1.train), u1) - 0.03


def precision_at_10(items: np.ndarray, split) -> float:
    """Mean share of each list that the user rated >= 4 in test (users with such items)."""
    liked = split.test.values >= 4
    relevant = pick_matrix(split.test.users[liked], split.test.items[liked],
                           (split.test.n_users, split.test.n_items)).toarray() > 0
    users = np.flatnonzero(relevant.any(axis=1))
    hits = np.take_along_axis(relevant[users], np.maximum(items[users], 0), axis=1)
    return float((hits & (items[users] >= 0)).sum(axis=1).mean() / 10)


@pytest.mark.realdata
@pytest.mark.slow
def test_default_recommend_lists_beat_popularity_and_say_their_scorer(u1, model):
    batch = recommend_many(model, model.user_ids.raw_ids, n=10)
    assert batch.scorer == "ease pick score x predicted rating"
    popular = evaluate_ranking(popularity_scorer(u1.train), u1.train, u1.test, k=10)
    default = precision_at_10(batch.item_indices, u1)
    assert popular.precision == pytest.approx(0.214, abs=0.005)
    assert default > 0.37 > popular.precision + 0.15
    one = recommend(model, 1, n=10)
    assert one.item_ids == batch[0].item_ids and one.to_json()["scorer"] == batch.scorer
    # Ranked by predicted rating alone, lists open with rarely rated items (Pather Panchali).
    first = recommend_many(model, model.user_ids.raw_ids, n=1).item_indices[:, 0]
    counts = u1.train.item_counts()
    assert np.median(counts[first]) > 100


@pytest.mark.realdata
@pytest.mark.slow
def test_a_folded_in_new_user_beats_popularity_without_retraining(u1):
    """50 u1 users are left out of training, then folded in from 10 of their ratings."""
    train = u1.train
    counts = train.user_counts()
    held = np.flatnonzero(counts >= 40)[:50]
    keep = ~np.isin(train.users, held)
    part = Ratings(train.users[keep], train.items[keep], train.values[keep],
                   train.user_ids, train.item_ids, train.scale, item_info=train.item_info)
    trained = fit(part, "mf-bias", solver="sgd", ranker="ease")
    popular = np.argsort(-part.item_counts(), kind="stable")
    gains = {"default": [], "popular": []}
    discount = 1 / np.log2(np.arange(2, 12))
    for user in held:
        rows = np.flatnonzero(train.users == user)
        given, rest = rows[:10], rows[10:]
        relevant = set(train.items[rest][train.values[rest] >= 4].tolist())
        if not relevant:
            continue
        answer = recommend_for_ratings(
            trained, {int(train.item_ids.to_raw([i])[0]): float(v)
                      for i, v in zip(train.items[given], train.values[given])},
        )
        assert answer.scorer == "ease pick score x predicted rating"
        seen = set(train.items[given].tolist())
        lists = {"default": answer.item_indices,
                 "popular": [i for i in popular if i not in seen][:10]}
        ideal = discount[: min(10, len(relevant))].sum()
        for name, items in lists.items():
            gains[name].append(sum(discount[j] for j, i in enumerate(items) if i in relevant)
                               / ideal)
    assert len(gains["default"]) >= 45
    assert np.mean(gains["default"]) > np.mean(gains["popular"]) + 0.05


@pytest.mark.realdata
@pytest.mark.slow
def test_the_bundle_keeps_the_ranking_model(model, tmp_path):
    model.save(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "ranker.safetensors").is_file()
    loaded = TrainedModel.load(tmp_path / "bundle")
    assert isinstance(loaded.ranker, EASE)
    assert loaded.ranker.describe() == model.ranker.describe()
    before, after = recommend(model, 50, n=10), recommend(loaded, 50, n=10)
    assert after.item_ids == before.item_ids and after.scorer == before.scorer


@pytest.mark.realdata
@pytest.mark.slow
def test_a_bundle_without_a_ranker_ranks_by_predicted_rating(u1, tmp_path):
    plain = fit(u1.train, "baseline")
    plain.save(tmp_path / "plain")
    loaded = TrainedModel.load(tmp_path / "plain")
    assert loaded.ranker is None
    answer = recommend(loaded, 1, n=5)
    assert answer.scorer == "predicted rating"
    assert np.all(np.diff(answer.scores) <= 1e-6)


@pytest.mark.realdata
@pytest.mark.slow
def test_filters_keep_lists_to_popular_items_and_chosen_genres(model, tmp_path, capsys):
    counts = model.train.item_counts()
    genres = model.train.item_info["genres"]
    plain_list = recommend(model, 1, n=10)
    popular = recommend(model, 1, n=10, item_filter=ItemFilter.of(min_ratings=200))
    assert len(popular) == 10 and counts[popular.item_indices].min() >= 200
    horror = recommend(model, 1, n=10, item_filter=ItemFilter.of(include=["genre:horror"]))
    assert len(horror) == 10
    assert all("Horror" in genres[i].split("|") for i in horror.item_indices)
    first = plain_list.item_ids[0]
    without = recommend(model, 1, n=10, item_filter=ItemFilter.of(exclude=[first]))
    assert first not in without.item_ids and without.item_ids[0] == plain_list.item_ids[1]
    with pytest.raises(ModelError, match="no item has genre 'Opera'; genres: .*Western"):
        recommend(model, 1, item_filter=ItemFilter.of(include=["genre:Opera"]))

    model.save(tmp_path / "bundle")
    assert main(["recommend", str(tmp_path / "bundle"), "--user", "1", "--min-ratings", "100",
                 "--exclude", "genre:Drama", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["scorer"] == "ease pick score x predicted rating"
    ids = model.item_ids.indices_of([item["item_id"] for item in payload["items"]])
    assert len(ids) == 10 and counts[ids].min() >= 100
    assert not any("Drama" in genres[i].split("|") for i in ids)


@pytest.mark.realdata
@pytest.mark.slow
def test_cold_start_with_a_ranker_is_popular_and_well_liked(u1, model):
    from embrec.recommend.engine import COLD_START_RANKED, Query, recommender_for

    answer = recommend_for_ratings(model, {}, n=10)
    assert answer.strategy == answer.scorer == COLD_START_RANKED
    assert answer.titles[0] == "Star Wars (1977)"
    key = recommender_for(model).score(Query(None))[0]
    every_user = lambda users: np.repeat(key[None, :], len(users), axis=0)  # noqa: E731
    cold = evaluate_ranking(every_user, u1.train, u1.test, k=10)
    by_rating = recommender_for(model).rating_scores(Query(None))[1]  # the average user's rating
    old = evaluate_ranking(lambda users: np.repeat(by_rating[None, :], len(users), axis=0),
                           u1.train, u1.test, k=10)
    assert cold.ndcg > 0.25 > 0.2 > old.ndcg


@pytest.mark.realdata
@pytest.mark.slow
def test_similar_items_come_from_the_ranking_model(model):
    from embrec.recommend import similar_items

    apu = similar_items(model, "Pather Panchali (1955)", n=5, min_ratings=2)
    assert apu.space.startswith("ease item-item weights")
    assert "World of Apu, The (Apur Sansar) (1959)" in apu.titles  # the same trilogy
    cosine = similar_items(model, "Pather Panchali (1955)", n=5, min_ratings=2, space="rating")
    assert cosine.space != apu.space


def test_train_refuses_an_unknown_ranker_before_training(capsys):
    assert main(["train", "--dataset", "ml-100k", "--out", "unused", "--ranker", "foo"]) == 2
    error = capsys.readouterr().err
    assert "unknown ranking model 'foo'; choose one of: ease, mult-dae (or none)" in error


@pytest.mark.realdata
@pytest.mark.slow
def test_embrec_train_stores_the_ranking_model_beside_the_rating_model(data_dir, tmp_path,
                                                                       capsys):
    out = tmp_path / "bundle"
    assert main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ranker"]["name"] == "ease" and summary["ranker"]["lambda"] == 400.0
    assert summary["valid_rmse"] == pytest.approx(0.9171, abs=1e-4)  # predict is unchanged
    assert TrainedModel.load(out).ranker is not None
    assert main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--out", str(tmp_path / "plain"), "--ranker", "none"]) == 0
    assert not (tmp_path / "plain" / "ranker.safetensors").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_mult_dae_ranks_well_folds_in_and_round_trips(u1, tmp_path):
    trained = fit(u1.train, "mf-bias", solver="sgd", ranker="mult-dae")
    dae = trained.ranker
    assert dae.name == "mult-dae"
    assert ndcg(dae.scorer(u1.train), u1) > 0.40 > ndcg(popularity_scorer(u1.train), u1) + 0.15
    trained.save(tmp_path / "dae")
    loaded = TrainedModel.load(tmp_path / "dae")
    users = np.arange(20)
    np.testing.assert_allclose(loaded.ranker.scorer(u1.train)(users),
                               dae.scorer(u1.train)(users), rtol=1e-5, atol=1e-9)
    answer = recommend_for_ratings(loaded, {"Star Wars (1977)": 5, "Return of the Jedi (1983)": 5})
    assert answer.scorer == "mult-dae pick score x predicted rating" and len(answer) == 10
    assert "Raiders of the Lost Ark (1981)" in answer.titles


@pytest.mark.realdata
def test_a_catalogue_over_the_limit_fits_ease_on_its_most_rated_items(u1):
    limited = fit_ease(u1.train, lambdas=(400.0,), max_items=500)
    counts = u1.train.item_counts()
    covered = np.zeros(u1.train.n_items, dtype=bool)
    covered[limited.items] = True
    assert covered.sum() == 500 and counts[covered].min() >= counts[~covered].max()
    scores = limited.scorer(u1.train)(np.arange(100))
    assert np.all(scores[:, ~covered] == 0) and np.any(scores[:, covered] != 0)
    assert np.all(limited.related(int(np.flatnonzero(~covered)[0])) == 0)
    assert limited.average_user(u1.train)[covered].max() > 0
    back = EASE.from_arrays(limited.to_arrays(), limited.describe())
    np.testing.assert_array_equal(back.scorer(u1.train)(np.arange(100)), scores)
    assert ndcg(limited.scorer(u1.train), u1) > ndcg(popularity_scorer(u1.train), u1) + 0.1
