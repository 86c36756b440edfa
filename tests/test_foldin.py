"""Folding new users into frozen models: every model type, the maths, and the taste it captures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from embrec.data.datasets import load_dataset
from embrec.models.embnet_foldin import EmbeddingNetFoldIn
from embrec.models.foldin import GaussianFoldIn, sigmoid_link
from embrec.recommend import recommend_for_ratings, recommender_for, similar_items
from embrec.recommend.engine import Query
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata

ROMANCES = ["Sleepless in Seattle", "While You Were Sleeping", "Pretty Woman",
            "English Patient, The"]
ADVENTURES = ["Star Wars (1977)", "Raiders of the Lost Ark", "Terminator, The", "Aliens"]
UNRATED_ROMANCES = ["Sabrina (1995)", "Ghost", "American President, The", "Dirty Dancing"]


@pytest.fixture(scope="module")
def ratings(data_dir):
    return load_dataset("ml-100k", data_dir=data_dir)


@pytest.fixture(scope="module")
def sample(ratings):
    """A fifth of ml-100k (same id maps): enough to check the mechanics of every model quickly."""
    return ratings.subset(np.random.default_rng(0).permutation(len(ratings))[:20_000])


@pytest.fixture(scope="module")
def mf_bias(ratings):
    """mf-bias as ``embrec train`` fits it by default (50 factors, compiled SGD)."""
    return fit(ratings, "mf-bias")


def test_the_similar_items_of_star_wars_are_its_sequels(mf_bias):
    similar = similar_items(mf_bias, "Star Wars (1977)", n=5)
    assert {"Empire Strikes Back, The (1980)", "Return of the Jedi (1983)"} <= set(similar.titles)


def test_fold_in_of_a_star_wars_taste_favours_the_sequels_over_romances(mf_bias):
    recommender = recommender_for(mf_bias)
    fan = {**{title: 5 for title in ADVENTURES}, **{title: 1 for title in ROMANCES}}
    romantic = {**{title: 1 for title in ADVENTURES}, **{title: 5 for title in ROMANCES}}
    fan_scores = recommender.score(recommender.ratings_query(fan))[1]
    romantic_scores = recommender.score(recommender.ratings_query(romantic))[1]
    sequels = [recommender.names.resolve(t) for t in ("Empire Strikes Back", "Return of the Jedi")]
    romances = [recommender.names.resolve(t) for t in UNRATED_ROMANCES]
    assert np.all(fan_scores[sequels] > romantic_scores[sequels] + 0.5)
    assert np.all(romantic_scores[romances] > fan_scores[romances] + 0.5)
    assert fan_scores[sequels].min() > fan_scores[romances].max()
    assert romantic_scores[romances].min() > romantic_scores[sequels].max()
    trilogy = {"Star Wars (1977)": 5, "Empire Strikes Back (1980)": 5,
               "Return of the Jedi (1983)": 5, **{title: 1 for title in ROMANCES}}
    result = recommend_for_ratings(mf_bias, trilogy, n=10)
    assert result.strategy.startswith("fold-in: MAP user factors")
    liked = {"Star Wars (1977)", "Empire Strikes Back, The (1980)", "Return of the Jedi (1983)"}
    assert all(set(reasons) <= liked for reasons in result.because)
    assert sum(bool(reasons) for reasons in result.because) >= 5


def test_closed_form_fold_in_of_a_known_user_reproduces_their_trained_predictions(mf_bias):
    recommender = recommender_for(mf_bias)
    for user_id in (1, 7, 100, 500, 900):
        query = recommender.known_query(user_id)
        folded = recommender.score(Query(None, query.items, query.values))[1]
        trained = mf_bias.predictor.score_users(np.asarray([query.user]))[0]
        assert np.corrcoef(folded, trained)[0, 1] > 0.8


def test_the_fold_in_scorer_is_the_network_for_a_known_users_own_parameters(mf_bias):
    fold_in = recommender_for(mf_bias).fold_in
    module = mf_bias.module
    theta = np.append(module.user_factors.weight[3].detach().numpy(),
                      module.user_bias.weight[3, 0].item())
    np.testing.assert_allclose(
        fold_in.scores_of(theta), mf_bias.predictor.score_users(np.asarray([3]))[0], atol=1e-5
    )


def test_no_ratings_fold_in_to_the_average_user():
    fold_in = GaussianFoldIn(np.eye(3), np.zeros(3), np.array([1.0, 2.0, 3.0]), np.eye(3), 1.0,
                             None, "test")
    np.testing.assert_allclose(fold_in.solve(np.empty(0, np.int64), np.empty(0)), [1, 2, 3])


def test_gauss_newton_fold_in_is_the_map_of_the_sigmoid_model():
    rng = np.random.default_rng(0)
    features, offsets = rng.normal(size=(40, 4)), rng.normal(size=40) * 0.1
    fold_in = GaussianFoldIn(features, offsets, np.zeros(4), 0.5 * np.eye(4), 0.3, (0.5, 5.5),
                             "test")
    items = np.arange(12)
    values = rng.integers(1, 6, size=12).astype(float)

    def objective(theta: np.ndarray) -> float:
        f, _ = sigmoid_link(features[items] @ theta + offsets[items], 0.5, 5.5)
        return float(((values - f) ** 2).sum() / 0.3 + theta @ theta / 0.5)

    theta = fold_in.solve(items, values)
    reference = minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-10})
    assert objective(theta) <= reference.fun + 1e-7
    np.testing.assert_allclose(theta, reference.x, atol=1e-4)


@pytest.mark.parametrize(
    ("model", "options", "strategy"),
    [
        ("mf-bias", {"epochs": 3}, "MAP user factors on frozen item factors (mf-bias)"),
        ("mf-bias", {"epochs": 1, "solver": "torch"}, "Gauss-Newton through the sigmoid"),
        ("mf", {"epochs": 3}, "MAP user factors"),
        ("baseline", {}, "user bias on frozen item biases"),
        ("embnet", {"epochs": 1}, "MAP user embedding through the frozen network"),
        ("autorec", {"epochs": 1, "factors": 100}, "MAP decoder row on the items' hidden codes"),
        ("autorec", {"epochs": 1, "factors": 100, "orientation": "user"}, "forward pass"),
        ("deep-ae", {"epochs": 1}, "one forward pass of the rating row"),
    ],
)
def test_every_model_type_folds_in_a_new_user(sample, model, options, strategy):
    trained = fit(sample, model, **options)
    given = {"Star Wars (1977)": 5, "Toy Story": 4, 127: 5, "Titanic (1997)": 2}
    result = recommend_for_ratings(trained, given, n=15)
    assert strategy in result.strategy
    assert len(result) == 15 and len(set(result.item_ids)) == 15
    assert not {50, 1, 127, 313} & set(result.item_ids)
    assert np.all((result.scores >= 1) & (result.scores <= 5))
    assert np.all(np.diff(result.scores) <= 1e-5)
    assert len(result.because) == 15


def test_embnet_fold_in_reproduces_the_network_and_its_jacobian_and_reaches_the_map(sample):
    model = fit(sample, "embnet", epochs=1)
    fold_in = recommender_for(model).fold_in
    assert isinstance(fold_in, EmbeddingNetFoldIn)
    module = model.module
    tables = (module.user_factors, module.user_bias, module.user_dot)
    theta = np.concatenate([t.weight[0].detach().numpy() for t in tables]).astype(np.float64)
    trained = model.train.item_counts() > 0
    np.testing.assert_allclose(
        fold_in.scores_of(theta)[trained],
        model.predictor.score_users(np.asarray([0]))[0][trained], atol=1e-5,
    )
    items = np.array([0, 49, 180, 312, 99])
    index = torch.from_numpy(items)
    k_user, k_dot = module.user_factors.embedding_dim, module.user_dot.embedding_dim

    def network(parameters: torch.Tensor) -> torch.Tensor:
        embedding, bias, dot = parameters[:k_user], parameters[k_user], parameters[k_user + 1 :]
        inputs = torch.cat([embedding[None].expand(len(items), -1),
                            module.item_factors.weight[index]], dim=1)
        return (module.mlp(inputs).squeeze(1) + bias + module.item_bias.weight[index, 0]
                + module.item_dot.weight[index] @ dot)

    module.eval()
    expected = torch.autograd.functional.jacobian(network, torch.from_numpy(theta).float())
    _, jacobian = fold_in._jacobian(theta, items)
    assert jacobian.shape == (5, k_user + 1 + k_dot)
    np.testing.assert_allclose(jacobian, expected.numpy(), rtol=1e-4, atol=1e-5)
    values = np.array([4.0, 5.0, 5.0, 1.0, 2.0])
    gauss_newton = fold_in.solve(items, values)
    adam = EmbeddingNetFoldIn(model, method="adam").solve(items, values)
    assert fold_in.objective(gauss_newton, items, values) <= (
        fold_in.objective(adam, items, values) + 1e-6
    )
    assert fold_in.objective(gauss_newton, items, values) < fold_in.objective(
        fold_in.prior_mean, items, values
    )
