"""The ``glocal`` solver of GLocal-K (:mod:`embrec.models.glocal_k`): full-batch L-BFGS.

As in the paper, the whole item x user matrix is one batch. Each epoch of the
training loop is at most ``iterations`` L-BFGS steps (memory 10) on the
objective of the model's docstring. ``lbfgs="scipy"`` (the default) runs
SciPy's L-BFGS-B afresh each epoch, as the paper's code does; ``"torch"`` runs
``torch.optim.LBFGS`` (strong-Wolfe line search), afresh each epoch with
``restart``, else keeping its curvature history within a phase.

The loop's epochs are two phases:

1. **Pre-training** (``pretrain_epochs``) fits the local autoencoder alone and
   ends early once an epoch lowers the training RMSE by less than
   ``pretrain_tol`` (0: only when it rises); the fine-tuning epochs then follow
   at once.
2. **Fine-tuning** (``finetune_epochs``) fits the model with the global
   convolution kernel, every parameter free.

Each epoch's train loss is the training MSE. Only fine-tuning epochs may be
kept as the best monitored one (a pre-trained state has an untrained global
kernel). The paper picks the best epoch by the test RMSE; embrec only ever
looks at the monitor part carved from the training data.

A checkpoint holds the network, the phase boundary, the last pre-training RMSE
and the torch optimiser's curvature history, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from embrec.data.ratings import Ratings
from embrec.device import resolve_device
from embrec.models.glocal_k import GLocalK
from embrec.models.registry import ModelConfig
from embrec.predictor import Predictor
from embrec.training.scores import Evaluation
from embrec.training.solver import EpochStep, Problem, Solver
from embrec.training.torch_solver import evaluate

HISTORY_SIZE = 10
PRETRAIN, FINETUNE = "pre-train", "fine-tune"


def dense_matrix(train: Ratings, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The item x user rating matrix (zeros where unrated) and its mask of observed entries."""
    matrix = torch.zeros(train.n_items, train.n_users, device=device)
    items = torch.from_numpy(np.asarray(train.items, dtype=np.int64)).to(device)
    users = torch.from_numpy(np.asarray(train.users, dtype=np.int64)).to(device)
    values = torch.from_numpy(np.asarray(train.values, dtype=np.float32)).to(device)
    matrix[items, users] = values
    mask = torch.zeros_like(matrix)
    mask[items, users] = 1.0
    return matrix, mask


def scipy_lbfgsb(params: list[torch.nn.Parameter], objective: Callable[[], torch.Tensor],
                 iterations: int) -> None:
    """At most ``iterations`` steps of SciPy's L-BFGS-B (memory 10) from the current ``params``.

    The optimiser of the paper's code (through TensorFlow's ScipyOptimizerInterface):
    float64 iterates, the float32 network's objective and gradient.
    """
    from scipy.optimize import minimize
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    device = params[0].device

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            vector_to_parameters(torch.from_numpy(x).float().to(device), params)
        for p in params:
            p.grad = None
        loss = objective()
        loss.backward()
        gradient = torch.cat([p.grad.reshape(-1) for p in params])
        return float(loss.detach()), gradient.double().cpu().numpy()

    start = parameters_to_vector(params).detach().double().cpu().numpy()
    result = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": iterations, "maxcor": HISTORY_SIZE})
    with torch.no_grad():
        vector_to_parameters(torch.from_numpy(result.x).float().to(device), params)


class GLocalSolver(Solver):
    """Pre-training then fine-tuning by full-batch L-BFGS; see the module docstring."""

    name = "glocal"
    uses = frozenset({"seed", "valid_fraction", "patience", "device"})
    instead = {"epochs": "GLocal-K's epochs are the model options pretrain_epochs and "
                         "finetune_epochs (--param pretrain_epochs=N)"}

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        model_config = problem.model_config
        self.device = resolve_device(self.config.device)
        module: GLocalK = problem.spec.build(model_config, problem.shape, False)
        self.module = module.to(self.device)
        self.global_kernel = self.module.use_global
        self.options = model_config
        self.matrix, self.mask = dense_matrix(problem.train, self.device)
        self.pretrain_end = int(model_config.pretrain_epochs)
        self.epochs = self.pretrain_end + int(model_config.finetune_epochs)
        self.best_phases = frozenset({FINETUNE if self.global_kernel else PRETRAIN})
        self.last_pretrain_rmse = math.inf
        self.optimizer: torch.optim.LBFGS | None = None
        self.optimizer_phase = ""

    # -- one epoch ------------------------------------------------------------------

    def phase(self, epoch: int) -> str:
        return PRETRAIN if epoch < self.pretrain_end else FINETUNE

    def _parameters(self, phase: str) -> list[torch.nn.Parameter]:
        if phase == PRETRAIN:
            return [p for layer in [*self.module.hidden, self.module.output]
                    for p in layer.parameters()]
        return list(self.module.parameters())

    def _objective(self) -> torch.Tensor:
        """``½ ‖M ⊙ (R - R̂)‖² + penalty`` of the network as it stands (phase set on it)."""
        error = (self.matrix - self.module(self.matrix)) * self.mask
        return 0.5 * error.pow(2).sum() + self.module.penalty()

    def _torch_optimizer(self, phase: str, params: list[torch.nn.Parameter]) -> torch.optim.LBFGS:
        """A fresh L-BFGS each epoch (``restart``, the paper's), else one per phase."""
        if self.optimizer is None or self.options.restart or self.optimizer_phase != phase:
            self.optimizer = torch.optim.LBFGS(
                params, lr=1.0, max_iter=int(self.options.iterations),
                history_size=HISTORY_SIZE, line_search_fn="strong_wolfe",
            )
            self.optimizer_phase = phase
        return self.optimizer

    def run_epoch(self, epoch: int) -> EpochStep:
        phase = self.phase(epoch)
        self.module.use_global = self.global_kernel and phase == FINETUNE
        self.module.train()
        params = self._parameters(phase)
        if self.options.lbfgs == "scipy":
            scipy_lbfgsb(params, self._objective, int(self.options.iterations))
        else:
            optimizer = self._torch_optimizer(phase, params)

            def closure() -> torch.Tensor:
                optimizer.zero_grad()
                loss = self._objective()
                loss.backward()
                return loss

            optimizer.step(closure)
        with torch.no_grad():
            error = (self.matrix - self.module(self.matrix)) * self.mask
        train_mse = float(error.pow(2).sum() / self.mask.sum())
        if phase == PRETRAIN:
            self._maybe_end_pretraining(epoch, math.sqrt(train_mse))
        return EpochStep(train_mse, 1.0, phase, examples=len(self.problem.train))

    def _maybe_end_pretraining(self, epoch: int, rmse: float) -> None:
        """End pre-training once an epoch gains less than ``pretrain_tol`` of training RMSE."""
        if self.last_pretrain_rmse - rmse < self.options.pretrain_tol:
            self.pretrain_end = epoch + 1
            self.epochs = self.pretrain_end + int(self.options.finetune_epochs)
        self.last_pretrain_rmse = rmse

    def scores(self) -> dict[str, Evaluation]:
        if not self.watched:
            return {}
        predictor = self._predictor()
        return {name: evaluate(predictor, ratings) for name, ratings in self.watched.items()}

    def _predictor(self) -> Predictor:
        """A predictor that scores on the training device."""
        return Predictor(self.module, self.problem.train, self.problem.fallback,
                         self.problem.train.scale)

    def diverged_hint(self) -> str:
        return "raise lambda_2 or lower iterations of the glocal-k model"

    # -- checkpoints and the best epoch ---------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "model": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "pretrain_end": self.pretrain_end,
            "last_pretrain_rmse": self.last_pretrain_rmse,
            "optimizer_phase": self.optimizer_phase,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.pretrain_end = int(state["pretrain_end"])
        self.epochs = self.pretrain_end + int(self.options.finetune_epochs)
        self.last_pretrain_rmse = float(state["last_pretrain_rmse"])
        if state["optimizer"] is not None:
            phase = state["optimizer_phase"]
            self._torch_optimizer(phase, self._parameters(phase)).load_state_dict(
                state["optimizer"])

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(snapshot)

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        self.module.use_global = self.global_kernel
        return self.module.cpu().eval(), self.options
