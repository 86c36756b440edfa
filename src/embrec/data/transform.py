"""The affine map of any rating scale onto the reference scale 1..5, where models train.

Every model's defaults (step sizes, regularisation, ``y_range``, init) are tuned
on 1..5 stars. Ratings on another scale ``low..high`` are mapped once, where
training starts, onto the reference range and predictions are mapped back::

    forward(r) = 1 + (r - low) · k,      k = 4 / (high - low)
    inverse(z) = low + (z - 1) / k

Squared errors scale by ``1/k²`` and RMSE by ``1/k``, so a model trained on
``20 · r`` predicts ``20 ×`` what it predicts on ``r``: its RMSE is 20 times the
1..5 RMSE. A scale already close to the reference (span 3..5, low 0..2: 1..5,
0.5..5, 0..4 ...) is left as it is (the identity), so figures measured on
MovieLens stay bit-identical.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from embrec.data.scale import RatingScale
from embrec.errors import DataError

if TYPE_CHECKING:
    from embrec.data.ratings import Ratings

FallbackT = TypeVar("FallbackT")
"""A baseline ``μ + b_u + b_i`` (:class:`embrec.predictor.Fallback`, a layer above)."""

REFERENCE_LOW = 1.0
REFERENCE_HIGH = 5.0
REFERENCE_SPAN = REFERENCE_HIGH - REFERENCE_LOW
# Scales whose span and low end lie in these bands train as they are.
NATIVE_SPAN = (3.0, 5.0)
NATIVE_LOW = (0.0, 2.0)


@dataclass(frozen=True)
class RatingTransform:
    """``forward(r) = reference_low + (r - low) · slope``; the identity when ``slope`` is None."""

    low: float = REFERENCE_LOW
    slope: float | None = None

    @classmethod
    def for_scale(cls, scale: RatingScale) -> RatingTransform:
        """The identity for a scale near 1..5, else the affine map of ``scale`` onto 1..5."""
        span = scale.high - scale.low
        native = (NATIVE_SPAN[0] <= span <= NATIVE_SPAN[1]
                  and NATIVE_LOW[0] <= scale.low <= NATIVE_LOW[1])
        if native:
            return cls()
        return cls(float(scale.low), REFERENCE_SPAN / span)

    @property
    def identity(self) -> bool:
        return self.slope is None

    @property
    def factor(self) -> float:
        """How many rating units one reference unit is: ``1 / slope`` (1 for the identity)."""
        return 1.0 if self.slope is None else 1.0 / self.slope

    def forward(self, values: np.ndarray | float) -> np.ndarray | float:
        if self.slope is None:
            return values
        return REFERENCE_LOW + (np.asarray(values, dtype=np.float64) - self.low) * self.slope

    def inverse(self, values: np.ndarray | float) -> np.ndarray | float:
        if self.slope is None:
            return values
        return self.low + (np.asarray(values, dtype=np.float64) - REFERENCE_LOW) / self.slope

    def forward_scale(self, scale: RatingScale) -> RatingScale:
        if self.slope is None:
            return scale
        step = None if scale.step is None else scale.step * self.slope
        return RatingScale(float(self.forward(scale.low)), float(self.forward(scale.high)), step)

    def forward_ratings(self, ratings: Ratings | None) -> Ratings | None:
        """``ratings`` on the reference range: values and scale mapped (itself if identity)."""
        if ratings is None or self.slope is None:
            return ratings
        return dataclasses.replace(
            ratings,
            values=np.asarray(self.forward(ratings.values), dtype=np.float32),
            scale=self.forward_scale(ratings.scale),
        )

    def inverse_fallback(self, fallback: FallbackT) -> FallbackT:
        """The baseline in rating units: ``μ`` mapped back, the biases divided by ``slope``."""
        if self.slope is None:
            return fallback
        return type(fallback)(
            float(self.inverse(fallback.global_mean)),
            (fallback.user_bias / self.slope).astype(fallback.user_bias.dtype),
            (fallback.item_bias / self.slope).astype(fallback.item_bias.dtype),
        )

    def forward_fallback(self, fallback: FallbackT) -> FallbackT:
        """The baseline in reference units (the inverse of :meth:`inverse_fallback`)."""
        if self.slope is None:
            return fallback
        return type(fallback)(
            float(self.forward(fallback.global_mean)),
            (fallback.user_bias * self.slope).astype(fallback.user_bias.dtype),
            (fallback.item_bias * self.slope).astype(fallback.item_bias.dtype),
        )

    def describe(self) -> str:
        if self.slope is None:
            return "ratings used as they are"
        return (f"ratings mapped onto {REFERENCE_LOW:g}..{REFERENCE_HIGH:g} for training: "
                f"1 + (r - {self.low:g}) x {self.slope:.6g}")

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "slope": self.slope}

    @classmethod
    def from_json(cls, payload: Any, where: str = "transform") -> RatingTransform:
        """From :meth:`to_json`; a missing payload (older bundles) is the identity."""
        if payload is None:
            return cls()
        try:
            low = float(payload["low"])
            slope = None if payload.get("slope") is None else float(payload["slope"])
        except (TypeError, ValueError, KeyError, AttributeError):
            raise DataError(f"field {where}: not a rating transform {{low, slope}}") from None
        if not np.isfinite(low) or (slope is not None and not (np.isfinite(slope) and slope > 0)):
            raise DataError(f"field {where}: low and slope must be finite, slope positive")
        return cls(low, slope)
