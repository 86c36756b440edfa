"""Folding a new user into a trained network, without retraining: their ratings in, scores out.

The protocol every model's fold-in follows (:class:`FoldIn`), and the maths the
models share. Everything about the items stays frozen; only what the model holds
per user is estimated from the new user's ratings ``r_i, i ∈ R``. Each model
declares its own fold-in on its spec (:mod:`embrec.models.spec`); most are linear
in the user's parameters θ up to an output link ``f``::

    r̂_i(θ) = f(x_iᵀ θ + o_i)

with ``x_i`` and ``o_i`` read off the frozen network (see each model's module).
θ is the MAP estimate under a Gaussian prior fitted to the known users
(empirical Bayes: ``m`` and ``S`` are the mean and covariance of the trained
users' θ) and Gaussian rating noise with the model's training MSE ``σ²``::

    θ* = argmin_θ  Σ_{i∈R} (r_i - f(x_iᵀθ + o_i))² / σ²  +  (θ - m)ᵀ S⁻¹ (θ - m)

For an identity link this is ridge regression towards the average user, solved
in closed form; in the k-dimensional (Woodbury) form, which needs no inverse of
S and costs a k x k solve for k ratings::

    θ* = m + S Xᵀ (X S Xᵀ + σ² I)⁻¹ (r - o - X m)

With a sigmoid range the same formula is iterated as Gauss-Newton: linearise
``f`` at the current θ_t (``J = diag(f'(z_t)) X``, pseudo-targets
``y = r - f(z_t) + J θ_t``) and solve the linear problem again, a few times. This
minimises the squared error in rating space, the model's training loss, rather
than in logit space. With no ratings θ* = m: the average user.

Models that take a user's rating row as input (:class:`RowFoldIn`) answer a new
user with one forward pass of their row, exactly as a known user.

All of it works in the network's own units: the reference scale of the model's
rating transform (``embrec.recommend.foldin`` maps ratings in and scores out).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from embrec.models.trained import TrainedNetwork

GAUSS_NEWTON_STEPS = 25
NOISE_SAMPLE = 200_000


class FoldIn:
    """Scores of every item for a user known only by ratings ``(items, values)``."""

    description = "fold-in"

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Unclipped predicted ratings ``(n_items,)``."""
        raise NotImplementedError


def training_noise(model: TrainedNetwork, seed: int = 0) -> float:
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


def population_prior(model: TrainedNetwork, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class RowFoldIn(FoldIn):
    """deep-ae and user-based autorec: one forward pass of the new user's rating row."""

    def __init__(self, model: TrainedNetwork) -> None:
        self.predictor = model.predictor
        self.n_items = model.train.n_items
        self.description = f"fold-in: one forward pass of the rating row ({model.name})"

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        row = np.zeros((1, self.n_items), dtype=np.float32)
        row[0, np.asarray(items, dtype=np.int64)] = np.asarray(values, dtype=np.float32)
        return self.predictor.forward_rows(row)[0]
