"""Serving a trained model over HTTP, with a web page and a durable store of new ratings.

* :func:`create_app`: the FastAPI application (``embrec serve`` runs it with uvicorn);
* :class:`RatingStore` / :class:`SQLiteRatingStore`: where the ratings people give are kept;
* :class:`Limits`: what one request may ask of the server.
"""

from embrec.serving.app import create_app
from embrec.serving.schemas import Limits
from embrec.serving.store import (
    RatingStore,
    SQLiteRatingStore,
    StoredRating,
    StoreError,
    open_store,
)

__all__ = [
    "Limits",
    "RatingStore",
    "SQLiteRatingStore",
    "StoreError",
    "StoredRating",
    "create_app",
    "open_store",
]
