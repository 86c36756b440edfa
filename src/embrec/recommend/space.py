"""The item space of a trained model: one vector per item whose cosine says which items it
treats alike.

Each model declares its own on its spec (``spec.item_space``, in the model's
module under :mod:`embrec.models`); :class:`ItemSpace` is in
:mod:`embrec.models.item_space`.
"""

from __future__ import annotations

from embrec.bundle import TrainedModel
from embrec.models.item_space import ItemSpace
from embrec.models.registry import get_spec


def item_space(model: TrainedModel) -> ItemSpace:
    """The item vectors of ``model``, as its spec declares them."""
    return get_spec(model.name).item_space(model)


__all__ = ["ItemSpace", "item_space"]
