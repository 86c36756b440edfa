"""The model protocol: what a model declares, once, in its own module.

A model is a network (a plain ``nn.Module``, :mod:`embrec.models.base`) plus a
:class:`ModelSpec` that says everything particular to it:

* ``config_cls``: its typed, validated hyperparameters (a :class:`ModelConfig`);
* ``build``: the network from ``(config, data shape, sparse)``;
* ``solvers``: how it can be fitted, the first being the default, with each
  solver's training defaults in ``solver_defaults`` (over ``train_defaults``),
  and in ``sized_defaults`` those that depend on the size of the training data
  and the device (over both: a table of 50k users may want another optimiser
  than one of 1k), a function of ``(n_users, n_items, device)``;
* ``fold_in``: the strategy that scores every item for a new user known only by
  ratings (as implicit's ``recalculate_user`` or LensKit's ``new_user_embedding``);
* ``item_space``: the item vectors whose cosine says which items it treats alike
  (by default the ``item_factors`` table, else the adjusted cosine of the rating columns);
* ``reg_option``: per solver, the training option that the shared name ``reg``
  (regularisation strength) sets, for a model whose config has no ``reg`` of its own;
* ``search_space``: per solver (or for any), the ranges ``--tune`` explores
  (:mod:`embrec.models.search_space`).

The registry (:mod:`embrec.models.registry`) lists the specs, one line each.
Nothing outside a model's module asks for its name; see ``docs/adding-a-model.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from torch import nn

from embrec.errors import ConfigError, ModelError
from embrec.models.base import DataShape
from embrec.models.foldin import FoldIn
from embrec.models.item_space import ItemSpace, default_item_space
from embrec.models.search_space import ANY_SOLVER, Dimension
from embrec.models.trained import TrainedNetwork

YRange = tuple[float, float] | Literal["auto"] | None


def resolve_y_range(y_range: YRange, shape: DataShape) -> tuple[float, float] | None:
    """``"auto"`` widens the rating scale by half a star each side, e.g. 1..5 -> (0.5, 5.5)."""
    if y_range == "auto":
        return (shape.rating_low - 0.5, shape.rating_high + 0.5)
    return None if y_range is None else (float(y_range[0]), float(y_range[1]))


def parse_layers(value: Any) -> Any:
    """``"100,50"`` (as the CLI gives it) -> ``(100, 50)``; anything else unchanged."""
    if isinstance(value, str):
        return tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    return value


class ModelConfig(BaseModel):
    """Hyperparameters of a network; extra keys are an error.

    Shared names: ``factors`` is the embedding width of every model that has
    one, ``reg`` its regularisation strength (a config field, or a training
    option the spec names per solver: ``ModelSpec.reg_option``). A config class
    may declare

    * ``renamed``: old spellings of a field (``{"rank": "factors"}``), still
      accepted with a :class:`DeprecationWarning`; the config records the new name;
    * ``expands``: one shared name that sets several fields
      (``{"factors": ("user_factors", "item_factors")}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    renamed: ClassVar[dict[str, str]] = {}
    expands: ClassVar[dict[str, tuple[str, ...]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _canonical_names(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        out = dict(values)
        for old, new in cls.renamed.items():
            if old in out:
                if new in out:
                    raise ValueError(f"{old!r} is the old name of {new!r}; give only {new!r}")
                warnings.warn(f"hyperparameter {old!r} is now called {new!r}",
                              DeprecationWarning, stacklevel=2)
                out[new] = out.pop(old)
        for shared, fields in cls.expands.items():
            if shared in out:
                value = out.pop(shared)
                for name in fields:
                    out.setdefault(name, value)
        return out

    @classmethod
    def accepted_names(cls) -> list[str]:
        """Every key the config takes: its fields and shared names (not the old spellings)."""
        return [*cls.model_fields, *cls.expands]


def _no_fold_in(model: TrainedNetwork) -> FoldIn:
    raise ModelError(f"model {model.name!r} cannot fold in new users; recommend for users "
                     "it was trained on, or retrain with the new user's ratings")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model (see the module docstring)."""

    name: str
    summary: str
    config_cls: type[ModelConfig]
    build: Callable[[Any, DataShape, bool], nn.Module]
    item_space: Callable[[TrainedNetwork], ItemSpace] = default_item_space
    fold_in: Callable[[TrainedNetwork], FoldIn] = _no_fold_in
    solvers: tuple[str, ...] = ("torch",)
    train_defaults: dict[str, Any] = field(default_factory=dict)
    solver_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    sized_defaults: dict[str, Callable[[int, int, str], dict[str, Any]]] = field(
        default_factory=dict)
    reg_option: dict[str, str] = field(default_factory=dict)
    search_space: dict[str, tuple[Dimension, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (set(self.solver_defaults) | set(self.sized_defaults) | set(self.reg_option)
                   | set(self.search_space) - {ANY_SOLVER}) - set(self.solvers)
        if unknown:
            raise ValueError(f"model {self.name!r}: defaults for undeclared solvers {unknown}")

    @property
    def default_solver(self) -> str:
        return self.solvers[0]

    def space_for(self, solver: str) -> tuple[Dimension, ...]:
        """The hyperparameter ranges a search explores with ``solver`` (empty: none declared)."""
        return self.search_space.get(solver, self.search_space.get(ANY_SOLVER, ()))

    def training_defaults(self, solver: str | None = None,
                          size: tuple[int, int] | None = None,
                          device: str = "auto") -> dict[str, Any]:
        """The model's training defaults with ``solver``'s own (the default solver's) on top.

        ``size``, the ``(n_users, n_items)`` of the training data, adds the
        solver's defaults for data of that size trained on ``device``
        (``sized_defaults``).
        """
        chosen = solver or self.default_solver
        defaults = {**self.train_defaults, **self.solver_defaults.get(chosen, {})}
        if size is not None and chosen in self.sized_defaults:
            device = defaults.get("device", device)
            defaults.update(self.sized_defaults[chosen](*size, device))
        return defaults

    def translate_reg(self, values: dict[str, Any], solver: str) -> dict[str, Any]:
        """``values`` with the shared name ``reg`` put where this model and ``solver`` read it.

        Unchanged when the config has ``reg`` (or expands it) itself.
        """
        if "reg" not in values or self.accepts("reg"):
            return values
        option = self.reg_option.get(solver)
        if option is None:
            raise ConfigError(f"model {self.name!r} with solver {solver!r} has no "
                              "regularisation strength (reg); drop it")
        if option in values:
            raise ConfigError(f"reg is {option} for model {self.name!r} with solver "
                              f"{solver!r}; give one of them")
        out = {k: v for k, v in values.items() if k != "reg"}
        out[option] = values["reg"]
        return out

    def describe_reg(self) -> str:
        """What ``reg`` sets for this model, e.g. ``"weight_decay (torch), emb_l2 (sgd, als)"``."""
        if "reg" in self.config_cls.expands:
            return " and ".join(self.config_cls.expands["reg"])
        if "reg" in self.config_cls.model_fields:
            return "reg"
        by_option: dict[str, list[str]] = {}
        for solver, option in self.reg_option.items():
            by_option.setdefault(option, []).append(solver)
        return ", ".join(f"{o} ({', '.join(s)})" for o, s in by_option.items()) or "-"

    def accepts(self, key: str) -> bool:
        """True when ``key`` is one of the config's fields or shared names."""
        return key in self.config_cls.accepted_names() or key in self.config_cls.renamed

    def make_config(self, values: dict[str, Any] | None = None, *, stored: bool = False
                    ) -> ModelConfig:
        """The validated config; a ConfigError naming the field and the accepted keys.

        ``stored``: the values come from a saved bundle, where old spellings are
        read silently.
        """
        try:
            with warnings.catch_warnings():
                if stored:
                    warnings.simplefilter("ignore", DeprecationWarning)
                return self.config_cls(**(values or {}))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            message = first["msg"].removeprefix("Value error, ")
            raise ConfigError(
                f"model {self.name!r}: {where}: {message}"
                f" (accepted: {', '.join(self.config_cls.accepted_names())})"
            ) from None
