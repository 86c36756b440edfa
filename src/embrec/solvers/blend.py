"""The ``blend`` solver: the members' fits are the epochs of the training loop.

For a blend of ``k`` members (:mod:`embrec.models.blend`, where the maths is)
the loop runs ``2k`` epochs:

* epochs ``1..k`` fit member ``m`` on the training ratings less the carve-out
  and keep its unclipped predictions of the carve-out; after epoch ``k`` the
  ridge weights are solved from them;
* epochs ``k+1..2k`` refit member ``m`` on all of the training ratings.

Each member is fitted by ``fit`` itself (:func:`embrec.training.fit.fit`, handed
in as ``Problem.fitter`` so this module sits below it), with its own solver,
defaults and hyperparameters and the blend's seed. The epoch table shows each
fit as a row (its phase names the member); the held-out sets are scored after
epoch ``k`` (the carve-out fits under the blend's weights) and after the last.

A checkpoint, written after each member's fit, holds the carve-out predictions,
the weights and every member fitted so far (its network's tensors, its fitted
config and solver), so ``--resume`` continues with the next member fit; a
member's fit itself is not resumed part way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from embrec.data.align import align_ratings
from embrec.data.ratings import Ratings
from embrec.data.splits import holdout_validation
from embrec.errors import ConfigError
from embrec.models.blend import BlendConfig, BlendMember, member_config, ridge_weights
from embrec.models.registry import ModelConfig, get_spec
from embrec.predictor import Fallback, Predictor
from embrec.training.config import TRAIN_KEYS
from embrec.training.scores import Evaluation, score_predictions
from embrec.training.solver import EpochStep, Problem, Solver, shape_of


def check_member(member: BlendMember) -> None:
    """A ConfigError for a member that ``fit`` would refuse, before any member is fitted."""
    spec = get_spec(member.model)
    if member.solver is not None and member.solver not in spec.solvers:
        raise ConfigError(f"blend member {member.model!r} has no solver {member.solver!r}; "
                          f"choose one of {', '.join(spec.solvers)}")
    unknown = [k for k in member.hyperparameters
               if not spec.accepts(k) and k not in TRAIN_KEYS and k != "reg"]
    if unknown:
        raise ConfigError(f"blend member {member.model!r}: unknown hyperparameter "
                          f"{unknown[0]!r}; accepted: "
                          f"{', '.join(sorted({*spec.config_cls.accepted_names(), *TRAIN_KEYS}))}")
    member_config(spec, member)


@dataclass
class FittedMember:
    """A member's fitted network, its config and solver as fitted, and its predictor."""

    module: torch.nn.Module
    model_config: ModelConfig
    solver: str
    predictor: Predictor

    @classmethod
    def of(cls, trained: Any) -> FittedMember:
        """From the TrainedModel that ``fit`` returned."""
        return cls(trained.module, trained.model_config, trained.solver, trained.predictor)

    @classmethod
    def rebuild(cls, model: str, state: dict[str, Any], train: Ratings) -> FittedMember:
        """From :meth:`to_state`, fitted on ``train`` (on the reference scale, as the blend's)."""
        spec = get_spec(model)
        config = spec.make_config(state["config"], stored=True)
        fallback = Fallback.fit(train)
        module = spec.build(config, shape_of(train, fallback.global_mean), False)
        module.load_state_dict(state["tensors"], strict=True)
        module.eval()
        predictor = Predictor(module, train, fallback, train.scale)
        return cls(module, config, state["solver"], predictor)

    def to_state(self) -> dict[str, Any]:
        return {"config": self.model_config.model_dump(mode="json"), "solver": self.solver,
                "tensors": {k: v.detach().cpu() for k, v in self.module.state_dict().items()}}


class BlendSolver(Solver):
    """Fits the members on the carve-out's complement, solves the weights, refits on all."""

    name = "blend"
    uses = frozenset({"seed", "threads"})
    instead = {"epochs": "the blend's epochs are its members' fits; set a member's epochs in "
                         "its hyperparameters"}
    keeps_best = False

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        if problem.fitter is None:
            raise ConfigError("the blend solver fits its members with fit(); call embrec.fit")
        config: BlendConfig = problem.model_config
        self.members: tuple[BlendMember, ...] = config.members
        for member in self.members:
            check_member(member)
        self.epochs = 2 * len(self.members)
        part = holdout_validation(problem.train, config.carve_fraction, config.carve_seed)
        self.fit_part = part.train
        self.carve = align_ratings(part.test, part.train).ratings
        self.carve_predictions: list[np.ndarray] = []
        self.weights: np.ndarray | None = None
        self.fitted: list[FittedMember] = []
        """The members as fitted last: on the carve-out's complement, then on all of train."""
        self.done = 0
        """Member fits done (epochs run)."""

    def _fit_member(self, member: BlendMember, train: Any) -> Any:
        hyperparameters = {"seed": self.config.seed, **member.hyperparameters}
        reads = self.problem.reads
        if self.config.threads is not None and (
                reads is None or reads(member.model, "threads", member.solver)):
            hyperparameters.setdefault("threads", self.config.threads)
        return self.problem.fitter(train, member.model, solver=member.solver, verbose=False,
                                   ranker=None, **hyperparameters)

    def run_epoch(self, epoch: int) -> EpochStep:
        k = len(self.members)
        member = self.members[epoch % k]
        carve_phase = epoch < k
        trained = self._fit_member(member, self.fit_part if carve_phase else self.problem.train)
        if carve_phase:
            raw, _ = trained.predictor.predict(self.carve.users, self.carve.items, clip=False)
            self.carve_predictions.append(raw.astype(np.float64))
            self.fitted.append(FittedMember.of(trained))
            if epoch == k - 1:
                self.weights = ridge_weights(np.column_stack(self.carve_predictions),
                                             self.carve.values, self.problem.model_config.alpha)
        else:
            self.fitted[epoch - k] = FittedMember.of(trained)
        self.done = epoch + 1
        records = trained.history.epochs
        loss = float(records[-1].train_loss) if records else 0.0
        phase = ("carve-out: " if carve_phase else "all: ") + member.model
        return EpochStep(loss if np.isfinite(loss) else 0.0, 0.0, phase,
                         examples=len(trained.train))

    def describe_weights(self) -> str:
        """The weights and each member's carve-out RMSE, on one line."""
        assert self.weights is not None
        parts = []
        for member, weight, raw in zip(self.members, self.weights[1:], self.carve_predictions):
            carve = score_predictions(raw, self.carve.values, self.carve.scale).rmse
            parts.append(f"{member.model} {weight:.3f} (carve-out RMSE {carve:.4f})")
        blended = self.weights[0] + np.column_stack(self.carve_predictions) @ self.weights[1:]
        carve = score_predictions(blended, self.carve.values, self.carve.scale).rmse
        return (f"blend weights on a {len(self.carve):,}-rating carve-out: intercept "
                f"{self.weights[0]:.3f}; " + ", ".join(parts) + f"; blend {carve:.4f}")

    def _blend(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        assert self.weights is not None
        columns = [m.predictor.predict(users, items, clip=False)[0] for m in self.fitted]
        return self.weights[0] + np.column_stack(columns).astype(np.float64) @ self.weights[1:]

    def scores(self) -> dict[str, Evaluation]:
        if self.done not in (len(self.members), self.epochs):  # members of one phase only
            return {}
        return {name: score_predictions(self._blend(r.users, r.items), r.values, r.scale)
                for name, r in self.watched.items()}

    def state(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "carve_predictions": [torch.from_numpy(p) for p in self.carve_predictions],
            "weights": None if self.weights is None else torch.from_numpy(self.weights.copy()),
            "fitted": [m.to_state() for m in self.fitted],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        k = len(self.members)
        self.done = int(state["done"])
        self.carve_predictions = [t.numpy().copy() for t in state["carve_predictions"]]
        self.weights = None if state["weights"] is None else state["weights"].numpy().copy()
        self.fitted = [
            FittedMember.rebuild(member.model, saved,
                                 self.problem.train if j < self.done - k else self.fit_part)
            for j, (member, saved) in enumerate(zip(self.members, state["fitted"]))
        ]

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        """The blend network of the members fitted on all of train, and the fitted config.

        Each member's hyperparameters are recorded as its training options and its
        model config as fitted (a solver may set fields, as the Gibbs sampler's
        ``width``; old spellings become the new ones), so the bundle rebuilds the
        same networks.
        """
        if self.done < self.epochs:
            raise ConfigError(f"the blend stopped after {self.done} of its {self.epochs} member "
                              "fits; resume from its checkpoint (--resume) or fit it again")
        problem = self.problem
        members = tuple(
            BlendMember(model=m.model, solver=trained.solver, hyperparameters={
                **{k: v for k, v in m.hyperparameters.items() if not get_spec(m.model).accepts(k)},
                **trained.model_config.model_dump(mode="json")})
            for m, trained in zip(self.members, self.fitted)
        )
        fitted = problem.model_config.model_copy(update={"members": members})
        module = problem.spec.build(fitted, problem.shape, False)
        for target, trained in zip(module.members, self.fitted):
            target.load_state_dict(trained.module.state_dict(), strict=True)
        with torch.no_grad():
            module.weights.copy_(torch.from_numpy(self.weights))
        module.eval()
        if problem.verbose:
            print(self.describe_weights())
        return module, fitted
