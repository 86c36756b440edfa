"""Recommending for known users, cold start, titles, similar items and interpretation."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.data.datasets import load_dataset
from embrec.errors import ModelError
from embrec.recommend import (
    COLD_START,
    item_biases,
    item_pca,
    onboarding_items,
    predict_new_item,
    recommend,
    recommend_for_ratings,
    recommend_many,
    similar_items,
)
from embrec.recommend.titles import ItemNames, name_key, split_title
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ratings(data_dir):
    return load_dataset("ml-100k", data_dir=data_dir)


@pytest.fixture(scope="module")
def model(ratings):
    return fit(ratings, "mf-bias", epochs=3)


@pytest.fixture(scope="module")
def names(ratings):
    return ItemNames(ratings)


def test_recommend_many_never_returns_an_item_the_user_rated_for_any_ml100k_user(model):
    batch = recommend_many(model, model.user_ids.raw_ids, n=20)
    seen = model.train.to_csr(by="user")
    assert batch.item_indices.shape == (943, 20)
    assert (batch.item_indices >= 0).all()
    for user in range(seen.shape[0]):
        rated = seen.indices[seen.indptr[user] : seen.indptr[user + 1]]
        assert not np.isin(batch.item_indices[user], rated).any()
    assert np.all(np.diff(batch.scores, axis=1) <= 1e-6), "best first"
    assert np.all((batch.scores >= 1) & (batch.scores <= 5))


@pytest.mark.parametrize("user_id", [1, 50, 943])
def test_recommend_for_one_user_is_the_batch_row_with_titles_and_explanations(model, user_id):
    single = recommend(model, user_id, n=10)
    row = recommend_many(model, [user_id], n=10)[0]
    assert single.item_ids == row.item_ids
    np.testing.assert_allclose(single.scores, row.scores, rtol=1e-5)
    assert single.strategy == "known user" and single.user_id == user_id
    assert all(isinstance(t, str) and t for t in single.titles)
    assert len(single.because) == 10
    titles = set(model.train.titles())
    assert all(set(reasons) <= titles for reasons in single.because)


def test_including_seen_items_can_return_them(model):
    seen = set(recommend(model, 1, n=1682, exclude_seen=False).item_ids)
    assert len(seen) == 1682


def test_candidates_restrict_the_recommendations_to_unseen_candidates(model):
    candidates = [1, 50, "Titanic (1997)", 181, 100, 1682]
    seen = set(recommend(model, 2, n=1682, exclude_seen=False).item_ids) - set(
        recommend(model, 2, n=1682).item_ids
    )
    result = recommend(model, 2, n=10, candidates=candidates)
    assert set(result.item_ids) == {1, 50, 313, 181, 100, 1682} - seen
    assert 0 < len(result) < 6


def test_an_unknown_user_gets_a_clear_error(model):
    with pytest.raises(ModelError, match=r"user 99999 is not in this model \(943 users, ids "
                       r"1\.\.943\); use recommend_for_ratings"):
        recommend(model, 99999)
    with pytest.raises(ModelError, match="user 99999 is not in this model"):
        recommend_many(model, [1, 99999])


def test_no_ratings_give_a_labelled_cold_start_answer_of_well_known_items(model):
    result = recommend_for_ratings(model, {}, n=10)
    assert result.strategy == COLD_START == "cold-start: average user + popularity"
    assert len(result) == 10 and result.user_id is None
    counts = model.train.item_counts()
    assert np.median(counts[result.item_indices]) > 100, "popular enough to be known"
    assert np.all(result.scores > model.fallback.global_mean)


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("Star Wars (1977)", "Star Wars (1977)"),
        ("star wars", "Star Wars (1977)"),
        ("Star wars", "Star Wars (1977)"),
        ("  STAR WARS  ", "Star Wars (1977)"),
        ("Usual Suspects, The (1995)", "Usual Suspects, The (1995)"),
        ("the usual suspects", "Usual Suspects, The (1995)"),
        ("The Usual Suspects (1995)", "Usual Suspects, The (1995)"),
        ("schindlers list", "Schindler's List (1993)"),
        ("les miserables", "Misérables, Les (1995)"),
        ("Se7en", "Seven (Se7en) (1995)"),
        ("Cape Fear (1962)", "Cape Fear (1962)"),
        ("50", "Star Wars (1977)"),
        (181, "Return of the Jedi (1983)"),
    ],
)
def test_titles_match_forgivingly(names, query, title):
    assert names.titles[names.resolve(query)] == title


def test_a_title_listed_twice_resolves_to_the_most_rated_copy(names):
    copies = [i for i, t in enumerate(names.titles) if t == "Chasing Amy (1997)"]
    assert len(copies) == 2
    assert names.resolve("chasing amy") == max(copies, key=lambda i: names.counts[i])


def test_ambiguous_and_unknown_titles_list_the_candidates(names):
    with pytest.raises(ModelError, match=r"ambiguous: Cape Fear \(1991\) \[id 218\], Cape Fear "
                       r"\(1962\) \[id 673\]; add the year"):
        names.resolve("cape fear")
    with pytest.raises(ModelError, match=r"no item titled 'Star Warz'.*closest: Star Wars"):
        names.resolve("Star Warz")
    with pytest.raises(ModelError, match=r"from 1990; this model has Sabrina \(1995\)"):
        names.resolve("Sabrina (1990)")
    with pytest.raises(ModelError, match=r"item 99999 is not in this model \(1682 items"):
        names.resolve(99999)


def test_title_keys_fold_case_accents_articles_punctuation_and_year():
    assert split_title("Usual Suspects, The (1995)") == (["usual suspects"], 1995)
    assert name_key("The Usual Suspects") == name_key("usual suspects, the") == "usual suspects"
    assert split_title("Seven (Se7en) (1995)")[0][:2] == ["seven", "se7en"]
    assert name_key("Misérables, Les") == "miserables"


def test_bad_new_user_ratings_are_refused_with_the_reason(model):
    with pytest.raises(ModelError, match=r"rating 7 for 'Star Wars \(1977\)' is outside this "
                       r"model's rating scale 1\.\.5"):
        recommend_for_ratings(model, {"Star Wars (1977)": 7})
    with pytest.raises(ModelError, match="outside"):
        recommend_for_ratings(model, {"Star Wars (1977)": "great"})
    with pytest.raises(ModelError, match="both name 'Star Wars \\(1977\\)'; rate each item once"):
        recommend_for_ratings(model, [("star wars", 5), (50, 4)])


def test_similar_items_exclude_the_item_and_are_ranked_by_cosine(model):
    result = similar_items(model, "Toy Story (1995)", n=10)
    assert result.item_id == 1 and 1 not in result.item_ids
    assert len(result) == 10
    assert np.all(np.diff(result.similarities) <= 1e-6)
    assert result.to_json()["items"][0].keys() == {"item_id", "title", "score"}


def test_a_new_item_is_the_average_item_or_the_average_of_its_genre(model):
    average = predict_new_item(model)
    scifi = predict_new_item(model, genres="sci-fi", user_ids=[1, 2])
    assert len(average.ratings) == 943 and average.basis == "the average item"
    assert scifi.basis.startswith("the average of") and "Sci-Fi" in scifi.basis
    assert scifi.user_ids == [1, 2] and np.all((scifi.ratings >= 1) & (scifi.ratings <= 5))
    with pytest.raises(ModelError, match="unknown genre 'Space Opera'; this model's genres are"):
        predict_new_item(model, genres=["Space Opera"])


def test_onboarding_asks_about_distinct_well_known_divisive_items(model):
    questions = onboarding_items(model, k=10)
    counts = model.train.item_counts()
    assert len(set(questions.item_ids)) == 10
    assert counts[questions.item_indices].min() >= np.sort(counts)[-200]
    overall_std = np.std(model.train.values)
    assert np.median(questions.rating_std) > 0.8 * overall_std


def test_item_biases_are_sorted_and_labelled(model):
    biases = item_biases(model, n=5)
    assert "learned item biases of mf-bias" in biases.source
    lows = [row["bias"] for row in biases.lowest]
    highs = [row["bias"] for row in biases.highest]
    assert lows == sorted(lows) and highs == sorted(highs, reverse=True)
    assert lows[-1] <= highs[-1]


def test_item_pca_writes_a_labelled_png(model, tmp_path):
    result = item_pca(model, n_labels=15, path=tmp_path / "maps" / "items.png")
    png = (tmp_path / "maps" / "items.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert 0 < result.explained[1] <= result.explained[0] < 1
    assert result.coordinates.shape == (1682, 2)
    assert len(result.axes) == 2 and len(result.axes[0]["high"]) == 5
    assert not list((tmp_path / "maps").glob(".*")), "no temporary file is left behind"
