"""Folding a new user into a trained model, without retraining: their ratings in, scores out.

Everything about the items stays frozen; only what the model holds per user is
estimated from the new user's ratings ``r_i, i ∈ R``. Per model:

**mf, mf-bias, baseline and item-based autorec** are linear in the user's
parameters θ up to an output link ``f``::

    r̂_i(θ) = f(x_iᵀ θ + o_i)

    mf-bias   x_i = [q_i; 1], θ = [p_u; b_u], o_i = b_i + μ, f = lo + (hi - lo) σ(·) or identity
    mf        x_i = q_i,      θ = p_u,        o_i = 0
    baseline  x_i = 1,        θ = b_u,        o_i = μ + b_i,  f = identity
    autorec   x_i = [h_i; 1], θ = [W_u; c_u], o_i = 0,        f = identity
              (item-based: h_i = σ(V r_i + b) is item i's hidden code, and the output for
              user u on item i is W_u · h_i + c_u, so a new user is a new decoder row)

(μ is the network's fixed offset: the global mean, or 0 behind a sigmoid range.)
For item-based AutoRec the new user's ratings do not enter the items' codes: the
encoder has no input weight for a new column, which is the same as a zero one, so
the codes h_i of the training rows are used as they are.

θ is the MAP estimate under a Gaussian prior fitted to the known users
(empirical Bayes: ``m`` and ``S`` are the mean and covariance of the trained
users' θ) and Gaussian rating noise with the model's training MSE ``σ²``::

    θ* = argmin_θ  Σ_{i∈R} (r_i - f(x_iᵀθ + o_i))² / σ²  +  (θ - m)ᵀ S⁻¹ (θ - m)

For an identity link this is ridge regression towards the average user, solved
in closed form; in the k-dimensional (Woodbury) form, which needs no inverse of
S and costs a k x k solve for k ratings::

    θ* = m + S Xᵀ (X S Xᵀ + σ² I)⁻¹ (r - o - X m)

With the sigmoid range of mf-bias the same formula is iterated as Gauss-Newton:
linearise ``f`` at the current θ_t (``J = diag(f'(z_t)) X``, pseudo-targets
``y = r - f(z_t) + J θ_t``) and solve the linear problem again, a few times. This
minimises the squared error in rating space, the model's training loss, rather
than in logit space. With no ratings θ* = m: the average user. For the baseline
the prior is the model's own ``b_u ~ N(0, σ²/λ_u)``, which gives the ALS update
``b_u = Σ (r_i - μ - b_i) / (λ_u + k)``.

**embnet**: the same MAP objective for the user's parameters θ = [e_u; b_u; g_u]
(MLP embedding, and bias and dot-product factors when the network has them; the
prior fitted to the known users' θ), through the frozen network with dropout
off, by Gauss-Newton or Adam (:mod:`embrec.recommend.foldin_embnet`).

**deep-ae and user-based autorec** take a user's rating row as input: a new user
is one forward pass of their row (zeros where unrated), exactly as a known user.

**bfm** carries its own fold-in: the posterior of a new user's id parameters in
each of its kept Gibbs samples (:class:`embrec.models.bfm.BFMFoldIn`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit

from embrec.bundle import TrainedModel
from embrec.data.transform import RatingTransform
from embrec.errors import ModelError
from embrec.recommend.space import item_codes

GAUSS_NEWTON_STEPS = 25
NOISE_SAMPLE = 200_000


class FoldIn:
    """Scores of every item for a user known only by ratings ``(items, values)``."""

    description = "fold-in"

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Unclipped predicted ratings ``(n_items,)``."""
        raise NotImplementedError


def training_noise(model: TrainedModel, seed: int = 0) -> float:
    """σ²: the mean squared error of the raw predictions on (a sample of) the training set.

    In the network's units: the reference scale of the model's rating transform.
    """
    train = model.train
    rows = np.arange(len(train))
    if len(rows) > NOISE_SAMPLE:
        rows = np.random.default_rng(seed).choice(rows, NOISE_SAMPLE, replace=False)
    raw, _ = model.predictor.predict(train.users[rows], train.items[rows], clip=False)
    mse = float(np.mean((raw.astype(np.float64) - train.values[rows]) ** 2))
    return mse / model.transform.factor**2 or 1.0


def population_prior(model: TrainedModel, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the per-user parameter vectors of the users with training ratings."""
    known = model.train.user_counts() > 0
    sample = np.asarray(vectors, dtype=np.float64)[known]
    if len(sample) < 2:
        return np.zeros(sample.shape[1]), np.eye(sample.shape[1])
    return sample.mean(axis=0), np.atleast_2d(np.cov(sample, rowvar=False))


def sigmoid_link(z: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """``f(z) = low + (high - low) σ(z)`` and its derivative."""
    s = expit(z)
    return low + (high - low) * s, (high - low) * s * (1.0 - s)


class GaussianFoldIn(FoldIn):
    """MAP of θ under ``θ ~ N(m, S)``, ``r_i ~ N(f(x_iᵀθ + o_i), σ²)``; see the module docstring."""

    def __init__(
        self,
        features: np.ndarray,
        offsets: np.ndarray,
        prior_mean: np.ndarray,
        prior_cov: np.ndarray,
        noise: float,
        y_range: tuple[float, float] | None,
        description: str,
    ) -> None:
        self.features = np.ascontiguousarray(features, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.prior_mean = np.asarray(prior_mean, dtype=np.float64)
        self.prior_cov = np.asarray(prior_cov, dtype=np.float64)
        self.noise = float(noise)
        self.y_range = y_range
        self.description = description

    def link(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.y_range is None:
            return z, np.ones_like(z)
        return sigmoid_link(z, *self.y_range)

    def solve(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """θ* for the ratings ``values`` of items ``items``."""
        m, S = self.prior_mean, self.prior_cov
        if len(items) == 0:
            return m.copy()
        X = self.features[items]
        offsets = self.offsets[items]
        r = np.asarray(values, dtype=np.float64)
        theta = m.copy()
        steps = 1 if self.y_range is None else GAUSS_NEWTON_STEPS
        for _ in range(steps):
            f, slope = self.link(X @ theta + offsets)
            J = X * slope[:, None]
            y = r - f + J @ theta
            SJt = S @ J.T
            gram = J @ SJt + self.noise * np.eye(len(r))
            updated = m + SJt @ np.linalg.solve(gram, y - J @ m)
            converged = np.max(np.abs(updated - theta)) < 1e-6
            theta = updated
            if converged:
                break
        return theta

    def scores_of(self, theta: np.ndarray) -> np.ndarray:
        """Predicted ratings of every item for the user parameters θ."""
        return self.link(self.features @ theta + self.offsets)[0].astype(np.float32)

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.scores_of(self.solve(items, values))


def dot_product_fold_in(model: TrainedModel) -> GaussianFoldIn:
    """mf / mf-bias: θ = [p_u; b_u] (or p_u) on the frozen item factors and biases."""
    module = model.module
    factors = module.item_factors.weight.detach().numpy()
    users = [module.user_factors.weight.detach().numpy()]
    offsets = np.zeros(len(factors))
    if hasattr(module, "item_bias"):
        factors = np.hstack([factors, np.ones((len(factors), 1), dtype=factors.dtype)])
        users.append(module.user_bias.weight.detach().numpy())
        offsets = module.item_bias.weight.detach().numpy()[:, 0] + float(module.global_bias)
    mean, cov = population_prior(model, np.hstack(users))
    link = "" if module.y_range is None else ", Gauss-Newton through the sigmoid"
    return GaussianFoldIn(
        factors, offsets, mean, cov, training_noise(model), module.y_range,
        f"fold-in: MAP user factors on frozen item factors{link} ({model.name})",
    )


def autorec_item_fold_in(model: TrainedModel) -> GaussianFoldIn:
    """Item-based AutoRec: a new decoder row [W_u; c_u] regressed on the items' hidden codes."""
    decoder = model.module.decoder
    codes = item_codes(model)
    features = np.hstack([codes, np.ones((len(codes), 1), dtype=codes.dtype)])
    users = np.hstack(
        [decoder.weight.detach().numpy(), decoder.bias.detach().numpy()[:, None]]
    )
    mean, cov = population_prior(model, users)
    return GaussianFoldIn(
        features, np.zeros(len(features)), mean, cov, training_noise(model), None,
        "fold-in: MAP decoder row on the items' hidden codes (autorec, item-based)",
    )


def baseline_fold_in(model: TrainedModel) -> GaussianFoldIn:
    """The bias-only model: b_u by the ALS update with the model's λ_u."""
    module = model.module
    offsets = module.item_bias.weight.detach().numpy()[:, 0] + float(module.global_bias)
    reg_user = float(model.model_config.reg_user)
    return GaussianFoldIn(
        np.ones((len(offsets), 1)), offsets, np.zeros(1), np.full((1, 1), 1.0 / reg_user),
        1.0, None, "fold-in: user bias on frozen item biases (baseline)",
    )


class RowFoldIn(FoldIn):
    """deep-ae and user-based autorec: one forward pass of the new user's rating row."""

    def __init__(self, model: TrainedModel) -> None:
        self.module = model.module
        self.n_items = model.train.n_items
        self.description = f"fold-in: one forward pass of the rating row ({model.name})"

    @torch.no_grad()
    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        self.module.eval()
        row = torch.zeros(1, self.n_items)
        row[0, torch.from_numpy(np.asarray(items, dtype=np.int64))] = torch.as_tensor(
            values, dtype=torch.float32
        )
        return self.module(row)[0].numpy()


class RescaledFoldIn(FoldIn):
    """A fold-in of a network trained on the reference scale: ratings in, scores out, mapped."""

    def __init__(self, inner: FoldIn, transform: RatingTransform) -> None:
        self.inner = inner
        self.transform = transform
        self.description = inner.description

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        reference = np.asarray(self.transform.forward(np.asarray(values, dtype=np.float64)))
        scores = self.inner.scores(items, reference.astype(np.float32))
        return np.asarray(self.transform.inverse(scores), dtype=np.float32)


def make_fold_in(model: TrainedModel) -> FoldIn:
    """The fold-in that fits ``model``'s network (see the module docstring).

    A network trained on ratings mapped onto the reference scale (see
    :mod:`embrec.data.transform`) folds in the mapped ratings; its scores are
    mapped back.
    """
    inner = network_fold_in(model)
    if model.transform.identity:
        return inner
    return RescaledFoldIn(inner, model.transform)


def network_fold_in(model: TrainedModel) -> FoldIn:
    """The fold-in of ``model``'s network, in the network's own units."""
    module = model.module
    if model.name == "bfm":
        from embrec.models.bfm import BFMFoldIn

        return BFMFoldIn(module)
    if model.name in ("mf", "mf-bias"):
        return dot_product_fold_in(model)
    if model.name == "baseline":
        return baseline_fold_in(model)
    if model.name == "embnet":
        from embrec.recommend.foldin_embnet import EmbeddingNetFoldIn

        return EmbeddingNetFoldIn(model)
    if model.name == "glocal-k":
        from embrec.recommend.foldin_glocal import glocal_fold_in

        return glocal_fold_in(model)
    if module.view == "rows" and module.orientation == "user":
        return RowFoldIn(model)
    if model.name == "autorec":
        return autorec_item_fold_in(model)
    raise ModelError(f"no fold-in of new users for model {model.name!r}")
