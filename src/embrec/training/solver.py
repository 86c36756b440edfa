"""The protocol between the one epoch loop (:mod:`embrec.training.loop`) and a solver.

A solver finds the parameters of one model on one training set, one epoch at a
time; the loop owns everything else (history, early stopping, the epoch table,
checkpoints and ``--resume``)::

    solver = SOLVERS[name](problem)             # init: tables, optimiser, sampler...
    solver.watch({"valid": valid, "monitor": monitor})
    for epoch in ...:
        step = solver.run_epoch(epoch)          # train loss, learning rate, phase
        scores = solver.scores()                # held-out loss / RMSE / MAE, own kernels
    solver.state() / solver.load_state(state)   # everything a bit-identical resume needs
    module, fitted_config = solver.finish()     # tables published into the network once

Each solver declares the :class:`~embrec.training.config.TrainConfig` options
it reads (``uses``); an option given explicitly that the chosen solver does not
read is a :class:`~embrec.errors.ConfigError` naming the solvers that do
(:func:`check_options`), never silently ignored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError
from embrec.models.base import DataShape
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.predictor import Fallback
from embrec.training.config import TrainConfig
from embrec.training.scores import Evaluation


def shape_of(train: Ratings, global_mean: float) -> DataShape:
    """The :class:`DataShape` a network is built for."""
    return DataShape(
        n_users=train.n_users,
        n_items=train.n_items,
        global_mean=float(global_mean),
        rating_low=train.scale.low,
        rating_high=train.scale.high,
    )


@dataclass
class Problem:
    """What a solver fits: a model (spec and config), the training options and ratings.

    ``train`` and ``fallback`` are on the scale the network trains on.
    ``fitter`` is :func:`embrec.training.fit.fit`, for a solver whose work is
    fitting other models (the blend's members); it is handed in, so solvers sit
    below ``fit``.
    """

    spec: ModelSpec | None
    model_config: ModelConfig | None
    config: TrainConfig
    train: Ratings
    fallback: Fallback
    verbose: bool = False
    fitter: Callable[..., Any] | None = None
    reads: Callable[[str, str, str | None], bool] | None = None
    """:func:`embrec.training.fit.reads_option`, handed in with ``fitter``: whether a
    model's solver reads a training option (the blend sets ``threads`` only where read)."""

    @property
    def shape(self) -> DataShape:
        return shape_of(self.train, self.fallback.global_mean)


@dataclass
class EpochStep:
    """What one epoch of a solver reports: its mean training loss, step size and phase."""

    train_loss: float
    lr: float = 0.0
    phase: str | None = None
    examples: int = 0


class Solver(ABC):
    """One way of fitting a model, driven epoch by epoch by the training loop."""

    name: ClassVar[str]
    uses: ClassVar[frozenset[str]]
    """The TrainConfig options this solver reads."""
    instead: ClassVar[dict[str, str]] = {}
    """What to use instead of an option this solver does not read, for the error."""
    keeps_best: ClassVar[bool] = True
    """Whether the loop may restore the best monitored epoch's parameters (and stop early)."""
    best_phases: frozenset[str] | None = None
    """The phases whose epochs may be kept as the best (None: every epoch)."""
    device: torch.device = torch.device("cpu")
    """Where the solver trains (the compiled solvers: always the CPU); the bundle records it."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.config = problem.config
        self.watched: dict[str, Ratings] = {}
        self.epochs = problem.config.epochs
        """Epochs the loop runs (a solver may count them otherwise: the biases' sweeps)."""
        self.table_every = 1
        """Print every this many epochs in the table (a long Gibbs chain prints about 40 rows)."""
        self.track: Callable[[Iterable[Any], int, int], Iterable[Any]] = lambda batches, *_: batches
        """Wraps an epoch's batches in a progress bar (set by the loop from its table)."""

    def watch(self, sets: Mapping[str, Ratings | None]) -> None:
        """Held-out sets to score after every epoch, by name (``valid``, ``monitor``)."""
        self.watched = {name: r for name, r in sets.items() if r is not None}

    @abstractmethod
    def run_epoch(self, epoch: int) -> EpochStep:
        """Train epoch ``epoch`` (0-based)."""

    @abstractmethod
    def scores(self) -> dict[str, Evaluation]:
        """The current parameters scored on every watched set."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Tensors and numbers that :meth:`load_state` continues from, bit for bit."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state`'s output."""

    def snapshot(self) -> Any:
        """The parameters to keep when an epoch is the best monitored one so far."""
        return None

    def restore(self, snapshot: Any) -> None:  # noqa: B027 (optional: most solvers keep best)
        """Go back to a :meth:`snapshot`."""

    @abstractmethod
    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        """The fitted network (on the CPU) and the model config as actually fitted."""

    def diverged_hint(self) -> str:
        lr = self.config.lr
        return f"lower the learning rate (it was {lr:g}, try {lr / 10:g})"


def check_options(
    solver: type[Solver], explicit: Iterable[str], solvers: Mapping[str, type[Solver]]
) -> None:
    """Refuse training options given explicitly that ``solver`` does not read.

    ``--wd 0.1`` with the sgd solver would otherwise change nothing: a sweep over
    it would print identical numbers. The error names the solvers that use it.
    """
    from embrec.training.config import TRAIN_KEYS

    for key in explicit:
        if key not in TRAIN_KEYS or key in solver.uses:
            continue
        users = sorted({s.name for s in solvers.values() if key in s.uses})
        hint = f"it is used by the {' and '.join(users)} solver" + ("s" if len(users) > 1 else "")
        if key in solver.instead:
            hint += f"; {solver.instead[key]}"
        raise ConfigError(
            f"training option {key} is not used by the {solver.name} solver ({hint}); "
            f"drop it or choose another solver"
        )
