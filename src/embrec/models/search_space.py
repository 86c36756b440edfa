"""The hyperparameters a search may change for a model, declared on its spec.

Each :class:`Dimension` is a range of one ``fit`` keyword (a model field such as
``factors`` or ``reg``, or a training field such as ``lr``, ``emb_l2``,
``weight_decay``, ``epochs``). Ranges span the model's default by a factor of
about 3-5 each way, on a log scale for scale-free quantities (rates,
regularisation, width), so a search starts where a plain run already does well.
A model declares one space per solver where the solver changes which keywords
matter (compiled SGD regularises with ``emb_l2``, the PyTorch loop with
``weight_decay``), or one for every solver under :data:`ANY_SOLVER`.
The search itself is :mod:`embrec.tuning.search`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANY_SOLVER = "*"
"""The key of a space that holds whichever solver fits the model."""


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


def integer(name: str, low: int, high: int, log: bool = False) -> Dimension:
    """An integer dimension (widths, epochs)."""
    return Dimension(name, low, high, log=log, integer=True)
