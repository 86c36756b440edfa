"""The ranking models embrec knows, by the short names the CLI uses.

A ranking model scores items by how likely a user is to pick them (top-N), not
by the rating they would give; it is fitted from the same :class:`Ratings` as
the rating models and travels in the same bundle beside one of them
(``ranker.safetensors``). Each entry binds a name to its fit function and its
loader; every ranker scores rows of the 0/1 matrix (``score_picks``), folds in a
new user from the items they rated (``score_items``) and saves as arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError
from embrec.models.ease import EASE, fit_ease
from embrec.models.multdae import MultDAE, fit_mult_dae

Ranker = EASE | MultDAE
"""The ranking models: each has ``score_picks``, ``score_items``, ``scorer``,
``related``, ``average_user``, ``to_arrays``, ``describe`` and ``from_arrays``."""

DEFAULT_RANKER = "ease"


@dataclass(frozen=True)
class RankerSpec:
    """A registered ranking model: its fit function and how to rebuild it from arrays."""

    name: str
    summary: str
    fit: Callable[..., Ranker]
    load: Callable[[dict[str, np.ndarray], dict[str, Any]], Ranker]


RANKERS: dict[str, RankerSpec] = {
    spec.name: spec
    for spec in [
        RankerSpec(
            "ease",
            "EASE (Steck 2019): closed-form item-item weights on the 0/1 matrix, "
            "lambda chosen on a carve-out of train",
            fit_ease,
            EASE.from_arrays,
        ),
        RankerSpec(
            "mult-dae",
            "Mult-DAE (Liang et al. 2018): denoising autoencoder over a user's picks, "
            "softmax likelihood, 600 tanh units",
            fit_mult_dae,
            MultDAE.from_arrays,
        ),
    ]
}


def get_ranker(name: str) -> RankerSpec:
    """The registered ranking model of that name, or a ConfigError listing the names."""
    try:
        return RANKERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown ranking model {name!r}; choose one of: {', '.join(RANKERS)} (or none)"
        ) from None


def fit_ranker(train: Ratings, name: str = DEFAULT_RANKER, seed: int = 0, **options: Any) -> Ranker:
    """Fit the ranking model ``name`` on ``train``."""
    return get_ranker(name).fit(train, seed=seed, **options)
