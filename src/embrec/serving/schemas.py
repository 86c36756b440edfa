"""Request and response bodies of the HTTP API, with their bounds.

Every request model forbids unknown fields, so a misspelt field is a 422 that
names it rather than a silently ignored value. Ids are integers or short
strings, exactly as in the data; ratings are strict finite numbers (``"4"``
and ``true`` are refused). The bounds here are hard ceilings, documented in the
OpenAPI schema; a server may be configured tighter (:class:`Limits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints, WithJsonSchema

MAX_ID_CHARS = 200
MAX_ITEM_NAME_CHARS = 300
MAX_QUERY_CHARS = 200
MAX_RATINGS = 1000
MAX_PAIRS = 1000
MAX_N = 100
MAX_LIMIT = 100


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes:
        max_body_bytes: request bodies above this are refused (413) before parsing.
        max_ratings: ratings in one request body (at most ``MAX_RATINGS``).
        max_pairs: (user, item) pairs in one ``/predict`` request (at most ``MAX_PAIRS``).
    """

    max_body_bytes: int = 64 * 1024
    max_ratings: int = 500
    max_pairs: int = 1000

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or not 1 <= self.max_ratings <= MAX_RATINGS:
            raise ValueError(f"limits out of range: {self}")
        if not 1 <= self.max_pairs <= MAX_PAIRS:
            raise ValueError(f"limits out of range: {self}")


def raw_id(value: Any) -> int | str:
    """An id as given: a 64-bit integer, or a text of 1 to ``MAX_ID_CHARS`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and value.strip():
        return value
    raise ValueError(f"an id must be an integer or a text of 1..{MAX_ID_CHARS} characters")


def rating_value(value: Any) -> float:
    """A rating: a finite JSON number (not text, not a boolean)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError("a rating must be a finite number")


RawId = Annotated[
    int | str,
    PlainValidator(raw_id),
    WithJsonSchema({"anyOf": [
        {"type": "integer"}, {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
    ]}),
]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ITEM_NAME_CHARS)]
RatingValue = Annotated[float, PlainValidator(rating_value), WithJsonSchema({"type": "number"})]
RatingsByItem = Annotated[
    dict[ItemName, RatingValue],
    Field(
        max_length=MAX_RATINGS,
        description="Ratings keyed by item id (as text, since JSON keys are text) or title.",
        examples=[{"50": 5, "Toy Story (1995)": 4}],
    ),
]


class Request(BaseModel):
    """A request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class Pair(Request):
    user_id: RawId
    item_id: RawId


class PredictRequest(Request):
    pairs: Annotated[list[Pair], Field(min_length=1, max_length=MAX_PAIRS)]


MIN_RATINGS_HELP = "Only items with at least this many training ratings."
INCLUDE_HELP = "Only these items (ids or titles) or genres ('genre:Comedy')."
EXCLUDE_HELP = "Never these items (ids or titles) or genres ('genre:Horror')."


class RecommendRequest(Request):
    ratings: RatingsByItem = Field(default_factory=dict)
    n: Annotated[int, Field(ge=1, le=MAX_N)] = 10
    min_ratings: Annotated[int, Field(ge=0, description=MIN_RATINGS_HELP)] = 0
    include: Annotated[list[RawId], Field(max_length=MAX_N * 100,
                                          description=INCLUDE_HELP)] = []
    exclude: Annotated[list[RawId], Field(max_length=MAX_N * 100,
                                          description=EXCLUDE_HELP)] = []


class StoreRatingsRequest(Request):
    ratings: Annotated[RatingsByItem, Field(min_length=1)]


class Scale(BaseModel):
    low: float
    high: float
    step: float | None


class Health(BaseModel):
    status: str
    model: str
    embrec_version: str
    dataset: str
    n_users: int
    n_items: int
    n_train_ratings: int
    scale: Scale
    store: dict[str, Any] | None = Field(
        description="The rating store's status, or null when the server keeps no ratings. "
        "With a token set, only its kind unless the request carries the token."
    )
    writes_need_token: bool


class Item(BaseModel):
    item_id: int | str
    title: str
    year: int | None
    genres: list[str]
    n_ratings: int
    mean_rating: float | None


class ItemList(BaseModel):
    query: str
    items: list[Item]


class Prediction(BaseModel):
    user_id: int | str
    item_id: int | str
    rating: float
    source: str


class Predictions(BaseModel):
    predictions: list[Prediction]


class RecommendedItem(BaseModel):
    item_id: int | str
    title: str
    score: float = Field(description="Predicted rating, clipped to the rating scale.")
    because: list[str] = Field(description="Titles of the user's liked items most like this one.")


class MatchedRating(BaseModel):
    """One rating of a request, with the catalogue item it was read as."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": "fargo", "item_id": 100, "title": "Fargo (1996)", "rating": 5,
         "matched_by": "title"},
    ]})

    input: str = Field(description="The key as sent: an item id, or a title in free text.")
    item_id: int | str
    title: str = Field(description="The catalogue title the input matched.")
    rating: float
    matched_by: Literal["id", "title"]


class Recommendations(BaseModel):
    user_id: int | str | None
    strategy: str = Field(description="How the list was made: known user, fold-in or cold start.")
    scorer: str = Field("predicted rating", description="What ordered the list, e.g. "
                        "'ease pick score x predicted rating' or 'predicted rating'.")
    n_ratings_used: int
    items: list[RecommendedItem]
    matched: list[MatchedRating] = Field(
        default_factory=list,
        description="For POST /recommendations, what each given rating matched, in order "
        "(an input that matches no item is a 422 naming it with the closest titles); "
        "empty for a stored or known user.",
    )


class SimilarItem(BaseModel):
    item_id: int | str
    title: str
    score: float = Field(description="Cosine similarity in the model's item space.")


class SimilarItems(BaseModel):
    item_id: int | str
    title: str
    space: str
    items: list[SimilarItem]


class Stored(BaseModel):
    user_id: int | str
    stored: int
    n_stored_ratings: int


class ErrorBody(BaseModel):
    detail: str
