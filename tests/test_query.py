"""One query path: queries built and checked once, answered alone or many together, the same."""

from __future__ import annotations

import asyncio
import copy

import numpy as np
import pytest

from embrec.data.datasets import load_dataset
from embrec.errors import ModelError
from embrec.models.rankers import fit_ranker
from embrec.recommend import recommend, recommend_for_ratings, recommender_for
from embrec.recommend.filters import ItemFilter
from embrec.serving.batching import MicroBatcher
from embrec.serving.service import Service
from embrec.training.fit import fit

STAR_WARS, FARGO, TOY_STORY = 50, 100, 1


@pytest.fixture(scope="module")
def model(data_dir):
    """mf-bias (1 epoch) with EASE (lambda 400) as the ranking model, on all of ml-100k."""
    trained = fit(load_dataset("ml-100k", data_dir=data_dir), "mf-bias", epochs=1, seed=0,
                  threads=1, verbose=False)
    trained.ranker = fit_ranker(trained.train, "ease", lambdas=[400.0])
    return trained


def same(a, b) -> None:
    assert a.item_ids == b.item_ids and a.strategy == b.strategy and a.scorer == b.scorer
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.because == b.because and a.n_ratings_used == b.n_ratings_used


def test_queries_answered_together_equal_each_answered_alone(model):
    recommender = recommender_for(model)
    queries = recommender.queries
    comedies = ItemFilter.of(min_ratings=50, include=["genre:Comedy"])
    asked = [
        queries.shaped(queries.known(196), 10),
        queries.shaped(queries.from_ratings({"Star Wars (1977)": 5, FARGO: 4}), 5),
        queries.shaped(queries.known(7), 10, item_filter=comedies),
        queries.shaped(queries.from_ratings({}), 10),
        queries.shaped(queries.from_ratings({TOY_STORY: 2}), 20, exclude_seen=False),
        queries.shaped(queries.known(1), 3, explain=False),
    ]
    together = recommender.answer_many(asked)
    assert [len(r) for r in together] == [10, 5, 10, 10, 20, 3]
    for query, answer in zip(asked, together):
        same(answer, recommender.answer(query))
    assert together[3].strategy.startswith("cold-start")
    assert together[0].scorer == "ease pick score x predicted rating"
    same(together[0], recommend(model, 196, n=10))
    same(together[1], recommend_for_ratings(model, {"Star Wars (1977)": 5, FARGO: 4}, n=5))
    counts = model.train.item_counts()[together[2].item_indices]
    assert counts.min() >= 50


def test_a_new_users_ratings_are_read_once_the_same_way_for_library_and_service(model):
    service = Service(model)
    ratings = {"star wars": 5, str(FARGO): 4}
    query = service.ratings_query(ratings)
    assert [m.matched_by for m in query.matched] == ["title", "id"]
    assert [m.item_id for m in query.matched] == [STAR_WARS, FARGO]
    answer = service.recommend_ratings(ratings, 10)
    assert answer["matched"][0]["title"] == "Star Wars (1977)"
    assert answer["items"] == recommend_for_ratings(model, ratings).to_json()["items"]
    for bad, fragment in [({"Star Wars (1977)": 7}, "outside this model's rating scale 1..5"),
                          ({"star wars": 5, str(STAR_WARS): 4}, "rate each item once"),
                          ({"Star Warz": 4, "Fargoo": 3, "1": 3}, "2 of 3 ratings match no")]:
        with pytest.raises(ModelError, match=fragment):
            service.ratings_query(bad)
        with pytest.raises(ModelError, match=fragment):
            recommend_for_ratings(model, bad)


def test_each_model_object_keeps_its_own_recommender(model):
    first = recommender_for(model)
    assert recommender_for(model) is first and first.model is model
    twin = copy.copy(model)
    assert recommender_for(twin) is not first and recommender_for(twin).model is twin
    assert Service(model).recommender is first


def test_requests_awaiting_together_are_answered_in_one_batch():
    calls: list[list[int]] = []

    def answer_many(queries):
        calls.append(list(queries))
        if 13 in queries:
            raise ModelError("thirteen")
        return [q * 10 for q in queries]

    async def main():
        batcher = MicroBatcher(answer_many)
        together = await asyncio.gather(*(batcher.answer(q) for q in range(8)))
        alone = await batcher.answer(9)
        mixed = await asyncio.gather(batcher.answer(12), batcher.answer(13),
                                     return_exceptions=True)
        return together, alone, mixed, batcher

    together, alone, mixed, batcher = asyncio.run(main())
    assert together == [q * 10 for q in range(8)] and alone == 90
    assert calls[0] == list(range(8)) and calls[1] == [9]
    assert mixed[0] == 120 and isinstance(mixed[1], ModelError)
    assert batcher.batches == 3 and batcher.answered == 11
