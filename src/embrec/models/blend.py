"""A ridge blend of rating models (``blend``): an intercept plus a weighted sum of members.

For members ``m = 1..k`` with unclipped predictions ``p_m(u, i)``::

    r̂(u, i) = clip(w_0 + Σ_m w_m p_m(u, i))

The weights are fitted on a carve-out ``C`` of the training ratings ``T``
(``carve_fraction`` of them, drawn with ``carve_seed``): each member is fitted
on ``T \\ C`` and predicts ``C``; with ``y`` the ratings of ``C`` and ``P`` the
``|C| x k`` member predictions, the weights solve the ridge problem with an
unpenalised intercept::

    w = argmin_w ‖y - [1, P] w‖² + α Σ_{m≥1} w_m²
      = (Xᵀ X + α D)⁻¹ Xᵀ y,   X = [1, P],   D = diag(0, 1, ..., 1)

The members are then refitted on all of ``T`` and kept with ``w``
(:mod:`embrec.solvers.blend` does the fitting; blending held-out predictions is
the "stacking" of Wolpert, "Stacked Generalization", Neural Networks 1992, as
used by the Netflix Prize teams, Töscher, Jahrer & Bell 2009). The test part of
an outer split is never seen: the weights see ``T`` only.

Defaults (measured with ``benchmarks/blend.py`` and ``embrec cv``, see
``docs/accuracy.md``): the ``bayes`` preset's Bayesian FM with a chain twice as
long (800 sweeps, burn-in 200), AutoRec over item rows and over user rows
(``orientation="user"``) and the ``fm`` (:mod:`embrec.models.fm`), a 10 %
carve-out drawn with seed 0, ``α = 1``. On ml-100k u1 (seed 0):

* the two AutoRecs err differently (one reconstructs an item's ratings from its
  raters, the other a user's from the items): the user-based one is weak alone
  (0.974) and still takes a weight of about 0.19; with it in place of
  ``mf-bias`` the blend went from 0.8806 to 0.8799 (mean u1..u5 0.8748 to
  0.8734); ``mf-bias``, ``embnet`` or ``deep-ae`` beside them changes no fold by
  more than 0.0004;
* the longer chain takes the Bayesian FM alone from 0.8862 to 0.8847 and the
  blend from 0.8799 to 0.8793 (mean 0.8734 to 0.8731);
* the ``fm`` (0.8907 alone, about 15 s a fit) takes it from 0.8793 to 0.8776
  (mean 0.8731 to 0.8718, every fold better by 0.0005-0.0017): it sees the
  same features as the Bayesian FM but is fitted by MAP, so its errors differ;
* ``α`` barely matters: 0 to 10 give the same RMSE to four decimals.

Fold-in of a new user: the same weights over each member's own fold-in scores,
``w_0 + Σ_m w_m f_m(items)``. Item space: the first member's.

The network (:class:`BlendNet`) holds the member networks and ``w``; the
predictor (:mod:`embrec.predictor`) asks each member for its predictions and
the blend combines them. Building a member's network needs its spec, which the
registry hands in (:func:`make_spec`), so this module sits below the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, field_validator
from torch import nn

from embrec.data.ratings import Ratings
from embrec.models.base import DataShape
from embrec.models.foldin import FoldIn
from embrec.models.item_space import ItemSpace
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork
from embrec.presets import PRESETS, get_preset

SpecLookup = Callable[[str], ModelSpec]


class BlendMember(BaseModel):
    """One member: a registered model, its solver (None: the model's default) and its
    hyperparameters (model and training keywords, as for ``fit``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    solver: str | None = None
    hyperparameters: dict[str, Any] = {}

    def __repr__(self) -> str:
        """``bfm (gibbs; factors=16, epochs=400)``: as ``embrec models`` lists the defaults."""
        params = ", ".join(f"{k}={v}" for k, v in self.hyperparameters.items())
        inside = "; ".join(part for part in (self.solver, params) if part)
        return self.model + (f" ({inside})" if inside else "")


def preset_member(name: str) -> BlendMember:
    """The member that fits as ``--preset name`` does: its model, solver and hyperparameters."""
    preset = get_preset(name)
    return BlendMember(model=preset.model, solver=preset.solver,
                       hyperparameters=dict(preset.hyperparameters))


def member_from_text(text: str) -> BlendMember:
    """A member named on the command line: a preset (``bayes``, ``neural``, ``fast``) or a model.

    A preset name wins over a model of the same name; a preset that is itself a
    blend (``best``, ``neural``) cannot be a member: name its members instead.
    """
    name = text.strip()
    if name in PRESETS and PRESETS[name].model == "blend":
        raise ValueError(f"preset {name!r} is a blend itself and cannot be a member of one; "
                         "name its members instead")
    if name in PRESETS:
        return preset_member(name)
    return BlendMember(model=name)


def longer_chain(member: BlendMember, sweeps: int, burn_in: int) -> BlendMember:
    """``member`` (a Gibbs-sampled model) with a longer chain: ``sweeps`` of which ``burn_in``."""
    return member.model_copy(update={"hyperparameters": {
        **member.hyperparameters, "epochs": sweeps, "burn_in": burn_in}})


DEFAULT_MEMBERS = (longer_chain(preset_member("bayes"), 800, 200), BlendMember(model="autorec"),
                   BlendMember(model="autorec", hyperparameters={"orientation": "user"}),
                   BlendMember(model="fm"))


class BlendConfig(ModelConfig):
    """Members, carve-out and ridge strength (module docstring)."""

    members: tuple[BlendMember, ...] = DEFAULT_MEMBERS
    carve_fraction: float = 0.1
    carve_seed: int = 0
    alpha: float = 1.0

    @field_validator("members", mode="before")
    @classmethod
    def _members_from_text(cls, members: Any) -> Any:
        """``"bayes,autorec,mf-bias"`` (``-p members=...``): presets or models by name."""
        if isinstance(members, str):
            members = [part for part in members.split(",") if part.strip()]
        if isinstance(members, (list, tuple)):
            return tuple(member_from_text(m) if isinstance(m, str) else m for m in members)
        return members

    @field_validator("members")
    @classmethod
    def _some_members(cls, members: tuple[BlendMember, ...]) -> tuple[BlendMember, ...]:
        if not members:
            raise ValueError("a blend needs at least one member")
        if any(m.model == "blend" for m in members):
            raise ValueError("a blend cannot be a member of a blend")
        return members

    @field_validator("carve_fraction")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError("carve_fraction must be in (0, 1)")
        return value

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, value: float) -> float:
        if not value >= 0.0:
            raise ValueError("alpha must be at least 0")
        return value


def ridge_weights(predictions: np.ndarray, ratings: np.ndarray, alpha: float) -> np.ndarray:
    """``w = (Xᵀ X + α D)⁻¹ Xᵀ y`` with ``X = [1, P]`` (module docstring): ``(k + 1,)``."""
    design = np.column_stack([np.ones(len(ratings)), np.asarray(predictions, np.float64)])
    penalty = alpha * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    gram = design.T @ design + penalty
    return np.linalg.lstsq(gram, design.T @ np.asarray(ratings, np.float64), rcond=None)[0]


class BlendNet(nn.Module):
    """``w_0 + Σ_m w_m p_m``: member networks (``members``) and the weights (``weights``).

    ``forward`` maps the members' predictions ``(k, n)`` to the blend ``(n,)``;
    the predictor (:mod:`embrec.predictor`) gets the members' predictions from
    their own networks, whatever view of the data each has.
    """

    view: ClassVar[str] = "members"

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.zeros(len(members) + 1, dtype=torch.float64))

    def forward(self, member_predictions: torch.Tensor) -> torch.Tensor:
        blended = self.weights[0] + self.weights[1:] @ member_predictions.to(torch.float64)
        return blended.to(torch.float32)


def member_config(spec: ModelSpec, member: BlendMember) -> ModelConfig:
    """The member's model config: its hyperparameters that are the model's (not training)."""
    return spec.make_config({k: v for k, v in member.hyperparameters.items() if spec.accepts(k)},
                            stored=True)


def build_blend(lookup: SpecLookup, config: BlendConfig, shape: DataShape,
                sparse: bool) -> BlendNet:
    """The blend network: each member's network from its spec and config."""
    return BlendNet([lookup(m.model).build(member_config(lookup(m.model), m), shape, sparse)
                     for m in config.members])


@dataclass
class MemberView:
    """One member of a trained blend seen as a trained network (for its fold-in, item space)."""

    name: str
    module: nn.Module
    model_config: Any
    train: Ratings
    transform: Any
    reference_train: Ratings
    predictor: Any


def member_views(lookup: SpecLookup, model: TrainedNetwork) -> list[MemberView]:
    """The members of a trained blend, each with the blend's data and its own predictor."""
    config: BlendConfig = model.model_config
    predictors = model.predictor.members  # a blend's Predictor keeps one per member
    return [
        MemberView(m.model, module, member_config(lookup(m.model), m), model.train,
                   model.transform, model.reference_train, predictor)
        for m, module, predictor in zip(config.members, model.module.members, predictors)
    ]


class BlendFoldIn(FoldIn):
    """``w_0 + Σ_m w_m f_m``: the blend's weights over each member's fold-in scores."""

    def __init__(self, members: Sequence[FoldIn], weights: np.ndarray) -> None:
        self.members = list(members)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.description = "fold-in: blend weights over the members' fold-ins (" + "; ".join(
            m.description for m in self.members) + ")"

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        total = sum(weight * member.scores(items, values).astype(np.float64)
                    for weight, member in zip(self.weights[1:], self.members))
        return (self.weights[0] + total).astype(np.float32)


def make_spec(lookup: SpecLookup) -> ModelSpec:
    """The blend's spec; ``lookup`` finds a member's spec by name (the registry's ``get_spec``)."""

    def fold_in(model: TrainedNetwork) -> BlendFoldIn:
        views = member_views(lookup, model)
        return BlendFoldIn([lookup(v.name).fold_in(v) for v in views],
                           model.module.weights.numpy())

    def item_space(model: TrainedNetwork) -> ItemSpace:
        first = member_views(lookup, model)[0]
        return lookup(first.name).item_space(first)

    return ModelSpec(
        "blend",
        "ridge blend of rating models, weights fitted on a carve-out of the training part "
        "(default: bayes preset's bfm, item- and user-based autorec, fm)",
        BlendConfig,
        lambda c, s, sparse: build_blend(lookup, c, s, sparse),
        item_space=item_space,
        fold_in=fold_in,
        solvers=("blend",),
    )
