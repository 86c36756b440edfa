"""The learning-rate finder (Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017; fastai's ``lr_find``).

Train from fresh weights for ``steps`` mini-batches while the rate grows
geometrically from ``start_lr`` to ``end_lr``::

    lr_t = start_lr · (end_lr / start_lr)^(t / (steps - 1))

and record the loss, smoothed by a bias-corrected exponential moving average
(β = 0.98). Stop once the smoothed loss passes four times its minimum. The
suggestion is the rate where the smoothed loss falls fastest against log(lr),
searched before the minimum: large enough to learn fast, small enough to be
stable. It is a guess read off the training loss, not a promise: on ``mf-bias``
it gives a rate that trains a worse model than the default.
:func:`~embrec.training.lr_advice.advise_lr` (``embrec lr-find``) checks it on a
carve-out before suggesting it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embrec.data.ratings import Ratings
from embrec.data.transform import RatingTransform
from embrec.models.registry import get_spec
from embrec.predictor import Fallback
from embrec.training.fit import split_hyperparameters
from embrec.training.loop import Trainer
from embrec.training.optim import SPARSE_OPTIMIZERS
from embrec.training.solver import shape_of
from embrec.training.threads import configure_threads


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]
    suggestion: float
    min_loss_lr: float

    def to_json(self) -> dict[str, Any]:
        return {
            "suggestion": self.suggestion,
            "min_loss_lr": self.min_loss_lr,
            "lrs": self.lrs,
            "losses": self.losses,
        }

    def plot(self, path: str | Path, title: str = "Learning-rate finder") -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses)
        ax.axvline(self.suggestion, color="tab:red", linestyle="--",
                   label=f"suggested lr = {self.suggestion:.2e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss (MSE, smoothed)")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def lr_find(
    train: Ratings,
    model: str = "mf-bias",
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    **hyperparameters: Any,
) -> LRFinderResult:
    """Sweep the learning rate over ``steps`` batches; see the module docstring.

    The sweep runs on the ratings as training sees them: mapped onto the
    reference scale when theirs is far from it (:mod:`embrec.data.transform`),
    so the losses are in reference units and the advised rate is the one
    :func:`~embrec.training.fit.fit` uses.
    """
    train = RatingTransform.for_scale(train.scale).forward_ratings(train)
    spec = get_spec(model)
    hyperparameters = {**hyperparameters, "schedule": "constant", "lr": start_lr}
    model_config, config = split_hyperparameters(spec, hyperparameters,
                                                 size=(train.n_users, train.n_items))
    configure_threads(config.threads, len(train))
    torch.manual_seed(config.seed)
    fallback = Fallback.fit(train)
    module = spec.build(model_config, shape_of(train, fallback.global_mean),
                        config.optimizer in SPARSE_OPTIMIZERS)
    trainer = Trainer(module, config, train, fallback)
    factor = (end_lr / start_lr) ** (1.0 / max(1, steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, math.inf
    step, epoch = 0, 0
    while step < steps:
        for batch in trainer.batches.epoch(epoch):
            lr = start_lr * factor**step
            for optimizer in trainer.optimizers.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = lr
            try:
                loss, _ = trainer._step(batch, epoch)
            except Exception:  # divergence ends the sweep: that is what it looks for
                step = steps
                break
            average = 0.98 * average + 0.02 * loss
            smoothed = average / (1 - 0.98 ** (step + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            step += 1
            if smoothed > 4 * best or step >= steps:
                step = steps
                break
        epoch += 1
    return LRFinderResult(lrs, losses, *suggest(lrs, losses))


def suggest(lrs: list[float], losses: list[float]) -> tuple[float, float]:
    """(rate of the steepest descent before the minimum, rate of the minimum loss)."""
    if len(lrs) < 3:
        return (lrs[0] if lrs else 1e-3), (lrs[0] if lrs else 1e-3)
    log_lr = np.log10(lrs)
    loss = np.asarray(losses)
    lowest = int(np.argmin(loss))
    skip = max(1, len(loss) // 10)
    if lowest - skip < 2:
        return float(lrs[lowest] / 10), float(lrs[lowest])
    slope = np.gradient(loss[skip:lowest + 1], log_lr[skip:lowest + 1])
    steepest = skip + int(np.argmin(slope))
    return float(lrs[steepest]), float(lrs[lowest])
