"""Items like a given item: cosine similarity in the model's item space.

    sim(i, j) = v_i · v_j / (‖v_i‖ ‖v_j‖)

with ``v`` the item vectors of :mod:`embrec.recommend.space` (item embeddings,
decoder rows or hidden codes by model). The item itself is left out, and so are
items with fewer than ``min_ratings`` training ratings (default 1: only items
never trained on): the vectors of items rated a handful of times are mostly
their initialisation and weight decay, so their cosines are noise; the CLI
asks for 5.

With a ranking model in the bundle (:mod:`embrec.models.rankers`), items are
related through it instead (``space="ranking"``, the default then): for EASE
``(B_ij + B_ji) / 2``, how much picking one raises the other's score, a space
fitted to what people pick together (Mult-DAE: the pick probabilities of a user
who picked only the item). ``space="rating"`` keeps the cosine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.errors import ModelError
from embrec.recommend.engine import recommender_for, top_n
from embrec.recommend.result import SimilarItems, plain


def similar_items(
    model: TrainedModel, item: Any, n: int = 10, min_ratings: int = 1, space: str = "auto"
) -> SimilarItems:
    """The ``n`` items most similar to ``item`` (raw id or title), most similar first.

    ``space``: ``"ranking"`` (the ranking model's item-item weights), ``"rating"``
    (cosine of the rating model's item vectors) or ``"auto"`` (ranking when the
    bundle has a ranking model).
    """
    if space not in ("auto", "ranking", "rating"):
        raise ModelError(f"space must be auto, ranking or rating, not {space!r}")
    recommender = recommender_for(model)
    index = recommender.names.resolve(item)
    ranker = model.ranker
    if space == "ranking" and ranker is None:
        raise ModelError("this bundle has no ranking model; train one (embrec train --ranker ease)")
    if ranker is not None and space != "rating":
        similarity = ranker.related(index).astype(np.float64)
        description = ranker.relation
    else:
        similarity = recommender.space.cosine(np.asarray([index]))[0].astype(np.float64)
        description = recommender.space.description
    similarity[recommender.item_counts < max(1, min_ratings)] = -np.inf
    similarity[index] = -np.inf
    best = top_n(similarity[None, :], n)[0]
    best = best[best >= 0]
    titles = recommender.names.titles
    return SimilarItems(
        item_id=plain(model.item_ids.to_raw([index])[0]),
        title=titles[index],
        item_ids=[plain(v) for v in model.item_ids.to_raw(best)],
        titles=[titles[i] for i in best],
        similarities=similarity[best].astype(np.float32),
        space=description,
    )
