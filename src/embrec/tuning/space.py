"""The hyperparameters a search may change, per model, near each model's defaults.

Each :class:`Dimension` is a range of one ``fit`` keyword (a model field such as
``factors`` or ``reg``, or a training field such as ``lr``, ``emb_l2``,
``weight_decay``, ``epochs``). Ranges span the model's default by a factor of
about 3-5 each way, on a log scale for scale-free quantities (rates,
regularisation, width), so a search starts where a plain run already does well.
A space is declared for a model and, where the solver changes which keywords
matter (compiled SGD regularises with ``emb_l2``, the PyTorch loop with
``weight_decay``), for a model and a solver.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from embrec.errors import ConfigError


@dataclass(frozen=True)
class Dimension:
    """One searched keyword: ``low..high``, integer or real, log-uniform or uniform."""

    name: str
    low: float
    high: float
    log: bool = True
    integer: bool = False

    def suggest(self, trial: Any) -> int | float:
        """The value an Optuna trial proposes for this keyword."""
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def clip(self, value: float) -> int | float:
        """``value`` moved into the range (a default just outside it still seeds the search)."""
        inside = min(max(float(value), self.low), self.high)
        return int(round(inside)) if self.integer else inside

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "low": self.low, "high": self.high, "log": self.log,
                "integer": self.integer}


def _int(name: str, low: int, high: int, log: bool = False) -> Dimension:
    return Dimension(name, low, high, log=log, integer=True)


_SGD_MF = (
    _int("factors", 16, 200, log=True),
    Dimension("lr", 0.01, 0.08),
    Dimension("emb_l2", 0.02, 0.25),
    _int("epochs", 10, 60),
)
_TORCH_MF = (
    _int("factors", 16, 200, log=True),
    Dimension("lr", 1e-3, 2e-2),
    Dimension("weight_decay", 0.02, 0.5),
    _int("epochs", 3, 12),
)

# Keys: "model/solver" where the solver matters, else "model".
SPACES: dict[str, tuple[Dimension, ...]] = {
    "baseline": (Dimension("reg_user", 1.0, 60.0), Dimension("reg_item", 1.0, 60.0)),
    "mf/sgd": _SGD_MF,
    "mf-bias/sgd": _SGD_MF,
    "mf/torch": _TORCH_MF,
    "mf-bias/torch": _TORCH_MF,
    "mf/als": (_int("factors", 16, 200, log=True), Dimension("emb_l2", 0.02, 0.5),
               _int("epochs", 5, 20)),
    "mf-bias/als": (_int("factors", 16, 200, log=True), Dimension("emb_l2", 0.02, 0.5),
                    _int("epochs", 5, 20)),
    "embnet": (
        Dimension("weight_decay", 0.2, 3.0),
        Dimension("lr", 1e-3, 2e-2),
        Dimension("dropout", 0.1, 0.5, log=False),
        _int("epochs", 3, 12),
    ),
    "autorec": (
        _int("factors", 200, 1000, log=True),
        Dimension("reg", 50.0, 800.0),
        Dimension("lr", 3e-4, 3e-3),
        _int("epochs", 20, 90),
    ),
    "deep-ae": (
        Dimension("dropout", 0.2, 0.7, log=False),
        Dimension("input_dropout", 0.2, 0.7, log=False),
        Dimension("weight_decay", 1e-4, 1e-2),
        Dimension("lr", 3e-4, 3e-3),
        _int("epochs", 15, 60),
    ),
    "bfm": (_int("factors", 8, 32, log=True), _int("epochs", 200, 600)),
}


def search_space(model: str, solver: str, fixed: Iterable[str] = ()) -> tuple[Dimension, ...]:
    """The dimensions searched for ``model`` fitted by ``solver``, less the keywords in ``fixed``.

    Keywords the caller set (``fixed``) are kept as given, not searched. A model
    without a declared space, or one whose every dimension is fixed, is a
    ConfigError naming the models that can be tuned.
    """
    declared = SPACES.get(f"{model}/{solver}", SPACES.get(model))
    if declared is None:
        tunable = sorted({key.split("/")[0] for key in SPACES})
        raise ConfigError(f"model {model!r} has no search space; --tune works with "
                          f"{', '.join(tunable)}")
    fixed = set(fixed)
    space = tuple(d for d in declared if d.name not in fixed)
    if not space:
        raise ConfigError(f"every searched hyperparameter of {model!r} "
                          f"({', '.join(d.name for d in declared)}) was given; drop one or "
                          "drop --tune")
    return space
