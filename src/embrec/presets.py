"""Named, measured configurations: ``--preset fast``, ``best``, ``bayes``, ``neural``.

A preset is a model, a solver and hyperparameters that were cross-validated
together (figures in ``docs/accuracy.md``, ml-100k official folds u1..u5, two
CPU cores)::

    model = embrec.fit(split.train, preset="best", test=split.test)
    embrec cv --dataset ml-100k --folds official --preset best
    embrec train --dataset ml-100k --split u1 --preset fast --out model/

* ``fast``: biased matrix factorisation (50 factors) fitted by the compiled
  SGD solver: mean RMSE 0.907, well under a second per fold.
* ``best``: the ridge blend (:mod:`embrec.models.blend`) of the ``bayes``
  preset's Bayesian FM with a chain twice as long (800 sweeps), AutoRec over
  item rows and over user rows and the ``fm`` (a factorisation machine fitted
  by Adam), weights fitted on a 10 % carve-out of the training part, the
  members then refitted on all of it: mean RMSE 0.8718, u1 0.8776, about 4
  minutes per fold on 2 cores.
* ``bayes``: the Bayesian factorisation machine (:mod:`embrec.models.bfm`) over
  ids, implicit feedback of users and items and side information, fitted by
  Gibbs sampling (:mod:`embrec.solvers.gibbs`): rank (``factors``) 16, 400 sweeps of
  which the first 100 are burn-in; mean RMSE 0.881, u1 0.886, minutes per fold
  (the ``best`` preset until the blend beat it).
* ``neural``: the same blend over networks only: GLocal-K
  (:mod:`embrec.models.glocal_k`, the kernelised item autoencoder with its global
  convolution kernel, fitted as in the paper by :mod:`embrec.solvers.glocal`) and
  the two AutoRecs: u1 0.8859, against 0.8928 for GLocal-K alone (the paper
  0.8889, the best test epoch) and 0.8862 for the Bayesian FM. Its two GLocal-K
  fits take over 10 minutes per fold on 2 cores; ``--model glocal-k`` alone
  takes half of that. Figures in ``docs/accuracy.md``.

Hyperparameters given next to a preset override the preset's; the model and
solver are the preset's. The preset's name and full configuration are printed
at the start of a run and recorded in the bundle's provenance (``preset``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embrec.errors import ConfigError


def _shown(value: Any) -> Any:
    """A blend's members as ``[glocal-k, autorec (orientation=user)]``; other values as they are."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(m, dict) and "model" in m for m in value):
        members = []
        for member in value:
            options = ", ".join(f"{k}={v}" for k, v in member.get("hyperparameters", {}).items())
            members.append(member["model"] + (f" ({options})" if options else ""))
        return "[" + ", ".join(members) + "]"
    return value


@dataclass(frozen=True)
class Preset:
    """A model, its solver and hyperparameters (the keywords of ``fit``) and what they gave."""

    name: str
    model: str
    solver: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def resolve(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The preset's hyperparameters with ``overrides`` on top."""
        return {**self.hyperparameters, **(overrides or {})}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "solver": self.solver,
                "hyperparameters": dict(self.hyperparameters)}

    def describe(self) -> str:
        params = ", ".join(f"{k}={_shown(v)}" for k, v in self.hyperparameters.items())
        solver = f"solver {self.solver}" + (f"; {params}" if params else "")
        return f"preset {self.name}: {self.model} ({solver}): {self.summary}"


NEURAL_MEMBERS: tuple[dict[str, Any], ...] = (
    {"model": "glocal-k"},
    {"model": "autorec"},
    {"model": "autorec", "hyperparameters": {"orientation": "user"}},
    {"model": "fm"},
)
"""The ``neural`` preset's blend: three networks (GLocal-K's defaults are the paper's) and the
factorisation machine fitted by Adam, the one member that sees implicit feedback and side
information (without it: ml-100k u1 0.8859)."""

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset(
            "fast",
            "mf-bias",
            "sgd",
            {"factors": 50, "y_range": None, "epochs": 25, "lr": 0.03, "emb_l2": 0.07,
             "schedule": "cosine"},
            "biased MF by compiled SGD; ml-100k u1..u5 mean RMSE 0.907, under a second per fold",
        ),
        Preset(
            "best",
            "blend",
            "blend",
            {},
            "ridge blend of the bayes preset's Bayesian FM (800 sweeps), item- and user-based "
            "autorec and the fm, weights fitted on a 10 % carve-out of the training part; "
            "ml-100k u1..u5 mean RMSE 0.8718 (u1 0.8776), about 4 minutes per fold on 2 cores",
        ),
        Preset(
            "bayes",
            "bfm",
            "gibbs",
            {"factors": 16, "epochs": 400, "burn_in": 100},
            "Bayesian FM with implicit feedback both ways and side information, Gibbs "
            "sampling; ml-100k u1..u5 mean RMSE 0.881 (u1 0.886), minutes per fold",
        ),
        Preset(
            "neural",
            "blend",
            "blend",
            {"members": NEURAL_MEMBERS},
            "ridge blend of GLocal-K (the paper's ml-100k settings), item- and user-based "
            "autorec and the fm (ids, implicit feedback, side information; Adam), weights "
            "fitted on a 10 % carve-out of the training part; ml-100k u1..u5 mean RMSE 0.8749 "
            "(u1 0.8817; GLocal-K alone 0.8928); over 10 minutes per fold on 2 cores (17-21 "
            "minutes: two GLocal-K fits)",
        ),
    ]
}


def get_preset(name: str) -> Preset:
    """The preset of that name, or a ConfigError listing the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None


def apply_preset(
    name: str,
    hyperparameters: dict[str, Any],
    *,
    model: str | None = None,
    solver: str | None = None,
    keywords: bool = False,
) -> tuple[Preset, dict[str, Any]]:
    """The preset and the hyperparameters to fit with (``hyperparameters`` override it).

    ``model`` and ``solver``, when the caller was given them explicitly, must be
    the preset's own: a preset names both. The error names the command-line
    flag (``--model``), or the keyword (``model='mf'``) when ``keywords``.
    """
    preset = get_preset(name)
    for what, asked, own in (("model", model, preset.model), ("solver", solver, preset.solver)):
        if asked is not None and asked != own:
            given = f"{what}={asked!r}" if keywords else f"--{what}"
            raise ConfigError(
                f"preset {name!r} uses {what} {own!r}, not {asked!r}; drop {given} or the preset"
            )
    return preset, preset.resolve(hyperparameters)
