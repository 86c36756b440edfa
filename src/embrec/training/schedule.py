"""The one learning-rate schedule of every solver, as a function of training progress.

``t`` runs from 0 (first step) to 1 (last step); ``peak`` is ``config.lr``::

    constant:   γ(t) = peak
    cosine:     γ(t) = peak · ½ (1 + cos(π t))
    one-cycle:  γ(t) = start + (peak - start) · ½ (1 - cos(π t / w))              t < w
                γ(t) = end + (peak - end) · ½ (1 + cos(π (t - w) / (1 - w)))      t ≥ w
                with start = peak / 25, end = start / 1e5, w the warm-up share

(fastai's ``fit_one_cycle``, as torch's ``OneCycleLR``; Adam's β1 moves
0.95 → 0.85 → 0.95 with it). The torch solver sets the rate before every
step (:class:`embrec.training.optim.StepSchedule`): ``t = s / (T - 1)`` for
step ``s`` of ``T`` and ``w = (T/4 - 1) / (T - 1)`` for one-cycle, ``t = s / T``
for cosine (one-cycle over fewer than 8 steps is cosine). The compiled SGD
takes one rate per epoch, at mid-epoch: ``t = (epoch + 0.5) / epochs``, ``w = 0.25``.
"""

from __future__ import annotations

import math

WARM_UP = 0.25
"""Share of the steps over which one-cycle warms up."""


MOMENTUM = (0.95, 0.85)
"""Adam's β1 (or SGD's momentum) at the ends and at the peak of a one-cycle schedule."""


def anneal(start: float, end: float, fraction: float) -> float:
    """Cosine from ``start`` (fraction 0) to ``end`` (fraction 1)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def learning_rate(schedule: str, peak: float, t: float, warm: float = WARM_UP) -> float:
    """The rate of ``schedule`` at progress ``t`` (see the module docstring)."""
    if schedule == "cosine":
        return peak * 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "one-cycle":
        start, end = peak / 25.0, peak / 25.0 / 1e5
        if t <= warm:
            return anneal(start, peak, t / warm)
        return anneal(peak, end, (t - warm) / (1.0 - warm))
    return peak


def one_cycle_momentum(t: float, warm: float = WARM_UP) -> float:
    """β1 at progress ``t`` of a one-cycle schedule: 0.95 -> 0.85 at the peak -> 0.95."""
    high, low = MOMENTUM
    if t <= warm:
        return anneal(high, low, t / warm)
    return anneal(low, high, (t - warm) / (1.0 - warm))


def epoch_lr(schedule: str, peak: float, epoch: int, epochs: int) -> float:
    """The rate of epoch ``epoch`` (0-based) of ``epochs``, taken at mid-epoch."""
    return learning_rate(schedule, peak, (epoch + 0.5) / epochs)
