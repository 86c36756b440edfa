"""The closed-form solver of a biases-only model (``baseline``): alternating least squares.

The model is ``r̂(u, i) = μ + b_u + b_i`` with μ the training mean, fitted to::

    min  Σ_(u,i) (r_ui - μ - b_u - b_i)² + λ_u Σ_u b_u² + λ_i Σ_i b_i²

With the user biases fixed, each item bias has a closed form, and the other way
round (Koren, "Factor in the Neighbors", TKDD 2010, section 2.1)::

    b_i = Σ_{u ∈ R(i)} (r_ui - μ - b_u) / (λ_i + n_i)
    b_u = Σ_{i ∈ R(u)} (r_ui - μ - b_i) / (λ_u + n_u)

One epoch of the training loop is one such sweep (items, then users), from zero
biases; the model config's ``sweeps`` is the number of epochs. λ_u, λ_i are
``reg_user``, ``reg_item`` of the model config. Users and items without ratings
keep bias 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from embrec.errors import ConfigError
from embrec.models.registry import ModelConfig
from embrec.training.scores import Evaluation, score_predictions
from embrec.training.solver import EpochStep, Problem, Solver


class BiasSolver(Solver):
    """Closed-form biases, one alternating sweep per epoch (see the module docstring)."""

    name = "biases"
    uses = frozenset({"seed", "threads", "device", "valid_fraction"})
    instead = {"epochs": "the closed form's sweeps are the model option sweeps (--param sweeps=N)"}
    keeps_best = False

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        if problem.config.device.startswith("cuda"):
            raise ConfigError(f"--device {problem.config.device}: the closed-form biases are "
                              "solved on the CPU; use --device cpu or auto")
        train, model_config = problem.train, problem.model_config
        self.epochs = int(model_config.sweeps)
        self.users, self.items = train.users, train.items
        self.values = train.values.astype(np.float64)
        self.mu = float(train.values.mean()) if len(train) else 0.0
        self.n_per_user = np.bincount(train.users, minlength=train.n_users)
        self.n_per_item = np.bincount(train.items, minlength=train.n_items)
        self.b_user = np.zeros(train.n_users)
        self.b_item = np.zeros(train.n_items)

    def run_epoch(self, epoch: int) -> EpochStep:
        config, train = self.problem.model_config, self.problem.train
        residual = self.values - self.mu - self.b_user[self.users]
        self.b_item = np.bincount(self.items, weights=residual, minlength=train.n_items) / (
            config.reg_item + self.n_per_item)
        residual = self.values - self.mu - self.b_item[self.items]
        self.b_user = np.bincount(self.users, weights=residual, minlength=train.n_users) / (
            config.reg_user + self.n_per_user)
        error = residual - self.b_user[self.users]
        return EpochStep(float(np.mean(error**2)) if len(error) else 0.0, 0.0,
                         examples=len(train))

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        known_u, known_i = users >= 0, items >= 0
        b_user = np.where(known_u, self.b_user.astype(np.float32)[np.maximum(users, 0)], 0)
        b_item = np.where(known_i, self.b_item.astype(np.float32)[np.maximum(items, 0)], 0)
        return (np.float32(self.mu) + b_user + b_item).astype(np.float32)

    def scores(self) -> dict[str, Evaluation]:
        return {name: score_predictions(self._predict(r.users, r.items), r.values, r.scale)
                for name, r in self.watched.items()}

    def state(self) -> dict[str, Any]:
        return {"b_user": torch.from_numpy(self.b_user.copy()),
                "b_item": torch.from_numpy(self.b_item.copy())}

    def load_state(self, state: dict[str, Any]) -> None:
        self.b_user = state["b_user"].numpy().copy()
        self.b_item = state["b_item"].numpy().copy()

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        problem = self.problem
        module = problem.spec.build(problem.model_config, problem.shape, False)
        with torch.no_grad():
            module.global_bias.fill_(self.mu)
            module.user_bias.weight.copy_(torch.from_numpy(self.b_user.astype(np.float32))[:, None])
            module.item_bias.weight.copy_(torch.from_numpy(self.b_item.astype(np.float32))[:, None])
        return module, problem.model_config
