"""Folding a new user into a frozen embedding network (``embnet``).

The user's parameters are θ = [e_u; b_u; g_u]: the MLP's user embedding, and the
user bias and dot-product factors when the network has them::

    z_i(θ) = MLP([e_u; q_i]) + b_u + b_i + g_u · g_i
    r̂_i(θ) = lo + (hi - lo) σ(z_i(θ))

θ is the MAP estimate of :mod:`embrec.models.foldin` (prior ``N(m, S)`` fitted
to the trained users' θ, rating noise σ² the training MSE)::

    θ* = argmin_θ  Σ_{i∈R} (r_i - r̂_i(θ))² / σ²  +  (θ - m)ᵀ S⁻¹ (θ - m)

with every network weight frozen and dropout off. Two solvers:

* ``gauss-newton`` (the default): the Jacobian of the k predictions comes from
  one backward pass that keeps the items apart (each item's path through the MLP
  depends on θ alone, so this costs what the gradient costs), then the Woodbury
  step of the linear case, ``θ = m + S Jᵀ (J S Jᵀ + σ² I)⁻¹ (y - J m)`` with
  ``y = r - r̂(θ_t) + J θ_t``, halved while it would raise the objective. The
  ReLUs make z piecewise linear in e_u, so a few steps reach the optimum.
* ``adam``: ``ADAM_STEPS`` Adam steps in standardised coordinates
  ``θ = m + D z`` (D the prior standard deviations, so one step size suits
  embeddings and biases alike), step size annealed along half a cosine.

The frozen MLP runs in numpy (its layers are Linear, ReLU and Dropout, an
identity at inference); the item half of the first layer, ``Q W_1,itemᵀ + c_1``,
is computed once for every item.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from embrec.errors import ModelError
from embrec.models.foldin import FoldIn, population_prior, sigmoid_link, training_noise
from embrec.models.trained import TrainedNetwork

GAUSS_NEWTON_STEPS = 20
ADAM_STEPS = 50
ADAM_LR = 0.4


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy().astype(np.float64)


class EmbeddingNetFoldIn(FoldIn):
    """MAP user parameters of a new user through the frozen embnet (module docstring)."""

    @torch.no_grad()
    def __init__(self, model: TrainedNetwork, method: str = "gauss-newton") -> None:
        if method not in ("gauss-newton", "adam"):
            raise ModelError(f"embnet fold-in method must be gauss-newton or adam, not {method!r}")
        module = model.module
        self.method = method
        self.description = (
            "fold-in: MAP user embedding through the frozen network, Gauss-Newton (embnet)"
            if method == "gauss-newton"
            else f"fold-in: {ADAM_STEPS} Adam steps on a new user embedding (embnet)"
        )
        self.y_range = module.y_range
        first = module.mlp[0]
        self.k_user = module.user_factors.embedding_dim
        weight = _numpy(first.weight)
        self.user_weight = weight[:, : self.k_user]
        self.item_part = _numpy(module.item_factors.weight) @ weight[:, self.k_user :].T
        self.item_part += _numpy(first.bias)
        self.layers: list[tuple[np.ndarray, np.ndarray] | None] = []
        for layer in module.mlp[1:]:
            if isinstance(layer, torch.nn.Linear):
                self.layers.append((_numpy(layer.weight), _numpy(layer.bias)))
            elif isinstance(layer, torch.nn.ReLU):
                self.layers.append(None)
            elif not isinstance(layer, torch.nn.Dropout):
                raise ModelError(f"embnet fold-in cannot run a {type(layer).__name__} layer")
        users = [_numpy(module.user_factors.weight)]
        n_items = len(self.item_part)
        self.item_bias = np.zeros(n_items)
        self.has_bias = getattr(module, "user_bias", None) is not None
        if self.has_bias:
            users.append(_numpy(module.user_bias.weight))
            self.item_bias = _numpy(module.item_bias.weight)[:, 0]
        self.item_dot = np.zeros((n_items, 0))
        if getattr(module, "user_dot", None) is not None:
            users.append(_numpy(module.user_dot.weight))
            self.item_dot = _numpy(module.item_dot.weight)
        self.prior_mean, self.prior_cov = population_prior(model, np.hstack(users))
        self.prior_std = np.sqrt(np.maximum(np.diag(self.prior_cov), 1e-12))
        correlation = self.prior_cov / np.outer(self.prior_std, self.prior_std)
        self.prior_precision_z = np.linalg.inv(correlation + 1e-6 * np.eye(len(correlation)))
        self.noise = training_noise(model)

    # -- the network as a function of θ -----------------------------------------------

    def _split(self, theta: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        k = self.k_user
        bias = float(theta[k]) if self.has_bias else 0.0
        return theta[:k], bias, theta[k + int(self.has_bias) :]

    def _forward(self, theta: np.ndarray, items: np.ndarray | slice) -> tuple[np.ndarray, list]:
        """Raw outputs z for ``items`` and the activations backprop needs."""
        embedding, bias, dot = self._split(theta)
        x = embedding @ self.user_weight.T + self.item_part[items]
        trace = []
        for layer in self.layers:
            trace.append(x)
            x = np.maximum(x, 0.0) if layer is None else x @ layer[0].T + layer[1]
        return x[:, 0] + bias + self.item_bias[items] + self.item_dot[items] @ dot, trace

    def _jacobian(self, theta: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z`` and ``∂z_i/∂θ`` ``(k, dim θ)``: backprop with the items kept apart."""
        z, trace = self._forward(theta, items)
        upstream = np.ones((len(items), 1))
        for layer, x in zip(reversed(self.layers), reversed(trace)):
            upstream = upstream * (x > 0) if layer is None else upstream @ layer[0]
        parts = [upstream @ self.user_weight]
        if self.has_bias:
            parts.append(np.ones((len(items), 1)))
        parts.append(self.item_dot[items])
        return z, np.hstack(parts)

    def objective(self, theta: np.ndarray, items: np.ndarray, target: np.ndarray) -> float:
        """The MAP objective (halved): ``Σ (r - r̂)² / 2σ² + (θ - m)ᵀ S⁻¹ (θ - m) / 2``."""
        z, _ = self._forward(theta, items)
        error = sigmoid_link(z, *self.y_range)[0] - target
        shift = (theta - self.prior_mean) / self.prior_std
        prior = shift @ self.prior_precision_z @ shift
        return float(0.5 * error @ error / self.noise + 0.5 * prior)

    # -- solvers ----------------------------------------------------------------------

    def solve(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """θ* for the ratings ``values`` of items ``items``; the prior mean when there are none."""
        if len(items) == 0:
            return self.prior_mean.copy()
        items = np.asarray(items, dtype=np.int64)
        target = np.asarray(values, dtype=np.float64)
        if self.method == "adam":
            return self._adam(items, target)
        return self._gauss_newton(items, target)

    def _gauss_newton(self, items: np.ndarray, target: np.ndarray) -> np.ndarray:
        m, S = self.prior_mean, self.prior_cov
        theta = m.copy()
        best = self.objective(theta, items, target)
        for _ in range(GAUSS_NEWTON_STEPS):
            z, jacobian = self._jacobian(theta, items)
            f, slope = sigmoid_link(z, *self.y_range)
            J = jacobian * slope[:, None]
            y = target - f + J @ theta
            SJt = S @ J.T
            gram = J @ SJt + self.noise * np.eye(len(target))
            step = m + SJt @ np.linalg.solve(gram, y - J @ m) - theta
            for _ in range(8):
                value = self.objective(theta + step, items, target)
                if value <= best:
                    break
                step *= 0.5
            else:
                break
            theta, improvement, best = theta + step, best - value, value
            if improvement < 1e-9 * max(1.0, abs(best)):
                break
        return theta

    def _adam(self, items: np.ndarray, target: np.ndarray) -> np.ndarray:
        z = np.zeros_like(self.prior_mean)
        first, second = np.zeros_like(z), np.zeros_like(z)
        for step in range(1, ADAM_STEPS + 1):
            theta = self.prior_mean + self.prior_std * z
            output, jacobian = self._jacobian(theta, items)
            f, slope = sigmoid_link(output, *self.y_range)
            grad = self.prior_std * (((f - target) * slope / self.noise) @ jacobian)
            grad += self.prior_precision_z @ z
            first = 0.9 * first + 0.1 * grad
            second = 0.999 * second + 0.001 * grad * grad
            rate = 0.5 * ADAM_LR * (1 + math.cos(math.pi * (step - 1) / ADAM_STEPS))
            z -= rate * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        return self.prior_mean + self.prior_std * z

    # -- scores -----------------------------------------------------------------------

    def scores_of(self, theta: np.ndarray) -> np.ndarray:
        """Predicted ratings of every item for the user parameters θ."""
        z, _ = self._forward(np.asarray(theta, dtype=np.float64), slice(None))
        return sigmoid_link(z, *self.y_range)[0].astype(np.float32)

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.scores_of(self.solve(items, values))
