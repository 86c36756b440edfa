"""The range of valid ratings, declared or taken from the data."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.errors import DataError


class InferredScaleWarning(UserWarning):
    """The rating scale was taken from the lowest and highest rating, as none was given."""


@dataclass(frozen=True)
class RatingScale:
    """The range of valid ratings: ``low .. high`` in steps of ``step`` (None: continuous)."""

    low: float
    high: float
    step: float | None = None

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise DataError(
                f"rating scale {self.low}..{self.high} is empty; low must be below high"
            )

    def clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.low, self.high)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of the values that lie inside the scale (steps are not enforced)."""
        return (values >= self.low) & (values <= self.high)

    @classmethod
    def of(cls, scale: RatingScale | tuple[float, float]) -> RatingScale:
        """A scale given as a RatingScale or a ``(low, high)`` pair."""
        if isinstance(scale, RatingScale):
            return scale
        try:
            low, high = (float(v) for v in scale)
        except (TypeError, ValueError):
            raise DataError(f"rating scale {scale!r} is not a (low, high) pair") from None
        return cls(low, high)

    @classmethod
    def inferred(cls, values: np.ndarray, stacklevel: int = 2) -> RatingScale:
        """:meth:`infer`, saying so with an :class:`InferredScaleWarning`.

        A scale taken from a sample is only as wide as the sample's ratings
        (four ratings of 2..5 give 2..5), and predictions are clipped to it.
        """
        scale = cls.infer(values)
        warnings.warn(
            f"rating scale {scale.low:g}..{scale.high:g} taken from the lowest and highest of "
            f"the {len(values):,} ratings, as no scale was given; predictions are clipped to "
            f"it. Pass scale=(low, high), e.g. scale=(1, 5), to declare it",
            InferredScaleWarning,
            stacklevel=stacklevel + 1,
        )
        return scale

    @classmethod
    def infer(cls, values: np.ndarray) -> RatingScale:
        """The tightest scale of the observed values, with the step of a star grid when one fits."""
        if len(values) == 0:
            raise DataError("cannot infer a rating scale from no ratings")
        low, high = float(values.min()), float(values.max())
        if low == high:
            high = low + 1.0
        step = None
        for candidate in (1.0, 0.5):
            if np.allclose(values / candidate, np.round(values / candidate)):
                step = candidate
                break
        return cls(low, high, step)

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "step": self.step}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RatingScale:
        return cls(float(payload["low"]), float(payload["high"]), payload.get("step"))
