"""The empty-ratings answer and the onboarding questions are films people pick, on ml-100k u1.

With or without a ranking model in the bundle, a new user with no ratings and the
questionnaire get widely rated films (what people pick and like), not the best
average of the rarely rated ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from embrec.models.ease import fit_ease
from embrec.ranking_protocol import evaluate_ranking
from embrec.recommend import COLD_START, onboarding_items, recommend_for_ratings
from embrec.recommend.engine import COLD_START_RANKED, Query, recommender_for
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata
WIDELY_RATED = 100


@pytest.fixture(scope="module")
def rating_only(u1):
    return fit(u1.train, "mf-bias", epochs=5, verbose=False)


@pytest.fixture(scope="module")
def with_ranker(rating_only, u1):
    return dataclasses.replace(rating_only, ranker=fit_ease(u1.train, lambdas=(400.0,)))


def same_list_for_everyone(key: np.ndarray):
    return lambda users: np.repeat(key[None, :], len(users), axis=0)


@pytest.mark.parametrize("bundle", ["rating_only", "with_ranker"])
def test_every_onboarding_question_is_about_a_widely_rated_film(bundle, request):
    model = request.getfixturevalue(bundle)
    questions = onboarding_items(model, k=10)
    counts = model.train.item_counts()
    assert len(set(questions.item_ids)) == 10
    assert counts[questions.item_indices].min() >= WIDELY_RATED, questions.titles
    assert "Star Wars (1977)" in questions.titles or "Contact (1997)" in questions.titles


@pytest.mark.parametrize(("bundle", "strategy"),
                         [("rating_only", COLD_START), ("with_ranker", COLD_START_RANKED)])
def test_every_film_of_the_empty_ratings_answer_is_widely_rated(bundle, strategy, request):
    model = request.getfixturevalue(bundle)
    answer = recommend_for_ratings(model, {}, n=10)
    counts = model.train.item_counts()
    assert answer.strategy == strategy and len(answer) == 10
    assert counts[answer.item_indices].min() >= WIDELY_RATED, answer.titles
    assert answer.titles[0] == "Star Wars (1977)"


def test_the_empty_answer_without_a_ranker_beats_the_best_average_rating(rating_only, u1):
    """Ordered by the average user's predicted rating alone, u1's NDCG@10 is about 0.05."""
    recommender = recommender_for(rating_only)
    key, average, _ = recommender.rating_scores(Query(None))
    answer = evaluate_ranking(same_list_for_everyone(key), u1.train, u1.test, k=10)
    by_average = evaluate_ranking(same_list_for_everyone(average), u1.train, u1.test, k=10)
    popular = evaluate_ranking(same_list_for_everyone(u1.train.item_counts().astype(float)),
                               u1.train, u1.test, k=10)
    assert answer.ndcg > popular.ndcg > 0.2 > 0.1 > by_average.ndcg
