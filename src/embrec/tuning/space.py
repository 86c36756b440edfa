"""The dimensions a search changes: the space the model's spec declares for a solver.

Each model declares its ranges beside its config (``search_space`` on its
:class:`~embrec.models.spec.ModelSpec`, :mod:`embrec.models.search_space`);
this module picks the one for a solver and drops the keywords the caller fixed.
"""

from __future__ import annotations

from collections.abc import Iterable

from embrec.errors import ConfigError
from embrec.models.registry import MODELS, get_spec
from embrec.models.search_space import Dimension

__all__ = ["Dimension", "search_space"]


def search_space(model: str, solver: str, fixed: Iterable[str] = ()) -> tuple[Dimension, ...]:
    """The dimensions searched for ``model`` fitted by ``solver``, less the keywords in ``fixed``.

    Keywords the caller set (``fixed``) are kept as given, not searched. A model
    without a declared space, or one whose every dimension is fixed, is a
    ConfigError naming the models that can be tuned.
    """
    declared = get_spec(model).space_for(solver)
    if not declared:
        tunable = sorted(name for name, spec in MODELS.items() if spec.search_space)
        raise ConfigError(f"model {model!r} has no search space; --tune works with "
                          f"{', '.join(tunable)}")
    fixed = set(fixed)
    space = tuple(d for d in declared if d.name not in fixed)
    if not space:
        raise ConfigError(f"every searched hyperparameter of {model!r} "
                          f"({', '.join(d.name for d in declared)}) was given; drop one or "
                          "drop --tune")
    return space
