"""How long a hyperparameter search may run: trials, seconds, or both.

``"30"`` is 30 trials, ``"60s"`` 60 seconds, ``"5m"`` five minutes; an empty
budget (a bare ``--tune``) is :data:`DEFAULT_BUDGET`, 40 trials or 120 seconds,
whichever comes first. A budget in seconds is checked between trials, so the
search stops at the first trial ending past it; a budget in trials alone is
reproducible for a seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from embrec.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """At most ``trials`` trials and at most ``seconds`` seconds (None: no limit of that kind)."""

    trials: int | None = None
    seconds: float | None = None

    def describe(self) -> str:
        parts = []
        if self.trials is not None:
            parts.append(f"{self.trials} trials")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return " or ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"trials": self.trials, "seconds": self.seconds}


DEFAULT_BUDGET = Budget(trials=40, seconds=120.0)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_budget(value: str | int | Budget | None) -> Budget:
    """A Budget from ``30`` (trials), ``"60s"``, ``"5m"``, ``"1h"``, or None/"" (the default)."""
    if isinstance(value, Budget):
        return value
    if value is None or (isinstance(value, str) and value.strip() in ("", "default")):
        return DEFAULT_BUDGET
    if isinstance(value, bool):
        raise ConfigError("tune budget: give a number of trials (30) or a time (60s, 5m)")
    if isinstance(value, int):
        text = str(value)
    else:
        text = str(value)
    match = _PATTERN.match(text)
    if match is None:
        raise ConfigError(f"tune budget {value!r}: give a number of trials (30) or a time "
                          "(60s, 5m, 1h)")
    number, unit = float(match.group(1)), match.group(2)
    if unit is None:
        if number != int(number) or number < 1:
            raise ConfigError(f"tune budget {value!r}: a number of trials is a whole number "
                              ">= 1")
        return Budget(trials=int(number))
    seconds = number * _UNIT_SECONDS[unit.lower()]
    if seconds <= 0:
        raise ConfigError(f"tune budget {value!r}: a time budget must be positive")
    return Budget(seconds=seconds)
