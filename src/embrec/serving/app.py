"""The HTTP API and the onboarding page: ``create_app(model_dir, db_path, token, limits)``.

Endpoints (JSON; raw ids and titles in and out; OpenAPI at ``/docs``):

========================================  =====================================================
``GET  /health``                          model, embrec version, catalogue size, store status
``GET  /items?query=star+wars&limit=20``  forgiving title search (empty query: most rated)
``GET  /items/{item_id}``                 one item (id, or a title)
``GET  /items/{item_id}/similar?n=10``    nearest items in the model's item space
``POST /predict``                         predicted ratings of ``{user_id, item_id}`` pairs
``GET  /users/{user_id}/recommendations`` top-n for a known user or one with stored ratings
``POST /recommendations``                 top-n for anyone from ``{ratings, n}`` (fold-in)
``POST /users/{user_id}/ratings``         store ratings
``GET  /``                                the web page: search, rate, see recommendations
``GET  /docs``, ``GET /redoc``            the API's pages (Swagger UI, ReDoc), served offline
========================================  =====================================================

With a token (``--token``), the endpoints that read or change a user's stored
ratings (``GET /users/{id}/recommendations``, ``POST /predict``, ``POST
/users/{id}/ratings``) need ``Authorization: Bearer <token>``, checked before the
body is read; ``/health`` then shows the store's location and counts only with
the token. The catalogue, ``POST /recommendations`` (the caller's own ratings in
the body), the page and the docs stay open. Every response carries a same-origin
Content-Security-Policy and the frame and sniffing guards (:mod:`.middleware`).

The docs pages load nothing from other hosts (:mod:`embrec.serving.docs`), so they
work on a machine without internet.

Every error is a 4xx with a one-line ``{"detail": ...}``: 400 malformed JSON,
401 missing or wrong token, 404 unknown id in the path, 413 body or request too
large, 422 invalid or unknown values in the body, 503 no rating store.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from embrec.bundle import TrainedModel
from embrec.errors import EmbrecError
from embrec.recommend.filters import ItemFilter
from embrec.serving import schemas
from embrec.serving.batching import MicroBatcher
from embrec.serving.docs import app_with_offline_docs
from embrec.serving.encoding import FastJSONResponse
from embrec.serving.fast_lane import FastLane
from embrec.serving.middleware import BodyLimit, SecurityHeaders, TokenGate, bearer_matches
from embrec.serving.schemas import Limits
from embrec.serving.service import NotFound, Service, TooLarge, Unavailable
from embrec.serving.store import InvalidRating, RatingStore, StoreError, open_store
from embrec.version import __version__

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("embrec.serving")

UserIdPath = Annotated[str, PathParam(min_length=1, max_length=schemas.MAX_ID_CHARS)]
ItemIdPath = Annotated[str, PathParam(min_length=1, max_length=schemas.MAX_ITEM_NAME_CHARS)]
CountQuery = Annotated[int, Query(ge=1, le=schemas.MAX_N, description="How many items.")]
MinRatingsQuery = Annotated[int, Query(ge=0, le=2**62, description=schemas.MIN_RATINGS_HELP)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorBody} for code in (400, 404, 413, 422, 503)
}
AUTH_ERRORS = {**ERRORS, 401: {"model": schemas.ErrorBody}}


def status_of(error: EmbrecError) -> int:
    """The HTTP status of an error the user can act on."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, TooLarge):
        return 413
    if isinstance(error, InvalidRating):
        return 422
    if isinstance(error, Unavailable | StoreError):
        return 503
    return 422


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def describe_validation(error: RequestValidationError) -> tuple[int, str]:
    """Status and one line for a request that failed validation: the first problem and where."""
    problems = list(error.errors())
    if not problems:
        return 422, "invalid request"
    first = problems[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return 400, one_line(f"malformed JSON body: {reason}")
    where = ".".join(str(part) for part in first.get("loc", ()))
    others = len(problems) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return 422, one_line(f"{where}: {message}{more}")


def install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes ``{"detail": one line}`` with a 4xx (a 500 only for a bug)."""

    @app.exception_handler(EmbrecError)
    async def embrec_error(request: Request, error: EmbrecError) -> JSONResponse:
        return JSONResponse({"detail": one_line(error)}, status_code=status_of(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        status, detail = describe_validation(error)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": one_line(error.detail)}, status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error ({type(error).__name__}); see the server log"},
            status_code=500,
        )


def token_check(token: str | None):
    """A dependency that demands ``Authorization: Bearer <token>`` when a token is set."""
    bearer = HTTPBearer(auto_error=False, description="The server's write token, if it has one.")

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise HTTPException(401, "this endpoint needs Authorization: Bearer <token>",
                                headers=challenge)
        if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "wrong bearer token", headers=challenge)

    return require_token


def create_app(
    model_dir: str | Path | TrainedModel,
    db_path: str | Path | None = None,
    token: str | None = None,
    limits: Limits | None = None,
    *,
    store: RatingStore | None = None,
    warm_up: bool = True,
    fast_lane: bool = True,
    device: str = "cpu",
) -> FastAPI:
    """The FastAPI application serving one model bundle.

    ``db_path`` opens (creating on first use) the SQLite rating store; ``store``
    plugs in any other :class:`~embrec.serving.store.RatingStore`. With neither,
    the server keeps no ratings. With ``token``, writes need that bearer token.
    ``fast_lane`` answers the plainly valid recommendation requests without
    FastAPI's per-request layers (:mod:`.fast_lane`), with the same answers.
    ``device`` is where a bundle loaded from a folder scores (``cpu``, ``cuda``...).
    """
    model = (model_dir if isinstance(model_dir, TrainedModel)
             else TrainedModel.load(model_dir, device))
    if store is None and db_path is not None:
        store = open_store(db_path)
    limits = limits or Limits()
    token = token or None
    service = Service(model, store, limits)
    if warm_up:
        service.warm_up()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if store is not None:
                store.close()

    app = app_with_offline_docs(
        title="embrec",
        version=__version__,
        summary=f"Recommendations from a {model.name} model trained on {model.train.name}.",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.state.batcher = MicroBatcher(service.answer_many)
    if fast_lane:
        app.add_middleware(FastLane, service=service, batcher=app.state.batcher)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    if token is not None:
        app.add_middleware(TokenGate, token=token)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_routes(app, service, token_check(token), token)
    return app


ENVIRONMENT_KEYS = {
    "model_dir": "EMBREC_SERVE_MODEL",
    "db": "EMBREC_SERVE_DB",
    "token": "EMBREC_TOKEN",
    "max_body_bytes": "EMBREC_SERVE_MAX_BODY_BYTES",
    "threads": "EMBREC_SERVE_THREADS",
    "device": "EMBREC_SERVE_DEVICE",
}


def limit_threads(threads: int) -> None:
    """Use ``threads`` torch and BLAS threads in this process (call after loading the model).

    One request's scoring is small. Multi-threaded BLAS on a busy machine makes its
    threads spin waiting for each other: a fold-in of 100 ratings took a second with
    two OpenBLAS threads on a loaded 2-core machine, and under a millisecond with one.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def app_from_environment() -> FastAPI:
    """The app each worker process of ``embrec serve --workers N`` builds for itself.

    The settings come from the environment variables of :data:`ENVIRONMENT_KEYS`.
    """
    import os

    settings = {key: os.environ.get(name, "") for key, name in ENVIRONMENT_KEYS.items()}
    limits = Limits(max_body_bytes=int(settings["max_body_bytes"] or 64 * 1024))
    app = create_app(settings["model_dir"], db_path=settings["db"] or None,
                     token=settings["token"] or None, limits=limits, warm_up=False,
                     device=settings["device"] or "cpu")
    limit_threads(int(settings["threads"] or 1))
    app.state.service.warm_up()
    return app


def add_routes(app: FastAPI, service: Service, require_token: Any, token: str | None) -> None:
    """The API's endpoints over ``service`` (see the module docstring).

    The two recommendation endpoints are the hot path under load: they run on the event
    loop, the requests ready together are scored together (:mod:`.batching`), and they
    return their JSON as built (``Recommendations.to_json`` is the documented
    :class:`~embrec.serving.schemas.Recommendations`), encoded by orjson when it is
    installed (:mod:`.encoding`), without FastAPI validating and encoding the response a
    second time. Their plainly valid requests are answered before FastAPI's routing
    (:mod:`.fast_lane`, the same calls as below); these routes answer the rest and
    every error.
    """
    batcher: MicroBatcher[Any, Any] = app.state.batcher
    private: dict[str, Any] = {"responses": ERRORS}
    if token is not None:
        private = {"dependencies": [Depends(require_token)], "responses": AUTH_ERRORS}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/health", response_model=schemas.Health, tags=["service"])
    def health(request: Request) -> dict[str, Any]:
        """The model, embrec's version, the catalogue size and the rating store's status.

        With a token set, the store's location and counts need it.
        """
        details = token is None or bearer_matches(request.headers.get("authorization"), token)
        return {**service.health(details), "writes_need_token": token is not None}

    @app.get("/items", response_model=schemas.ItemList, tags=["items"], responses=ERRORS)
    def search_items(
        query: Annotated[str, Query(max_length=schemas.MAX_QUERY_CHARS)] = "",
        limit: Annotated[int, Query(ge=1, le=schemas.MAX_LIMIT)] = 20,
    ) -> dict[str, Any]:
        """Items whose titles match ``query`` (case, accents, articles, typos forgiven)."""
        return {"query": query, "items": service.search(query, limit)}

    @app.get("/items/{item_id}", response_model=schemas.Item, tags=["items"],
             responses=ERRORS)
    def get_item(item_id: ItemIdPath) -> dict[str, Any]:
        """One item by id (or by title)."""
        return service.item(item_id)

    @app.get("/items/{item_id}/similar", response_model=schemas.SimilarItems, tags=["items"],
             responses=ERRORS)
    def similar(item_id: ItemIdPath, n: CountQuery = 10) -> dict[str, Any]:
        """The ``n`` items closest to this one in the model's item space."""
        return service.similar(item_id, n)

    @app.post("/predict", response_model=schemas.Predictions, tags=["predictions"], **private)
    def predict(body: schemas.PredictRequest) -> dict[str, Any]:
        """Predicted ratings, clipped to the scale, with what answered each pair."""
        pairs = [(pair.user_id, pair.item_id) for pair in body.pairs]
        return {"predictions": service.predict(pairs)}

    @app.get("/users/{user_id}/recommendations", response_model=schemas.Recommendations,
             tags=["recommendations"], **private)
    async def user_recommendations(
        user_id: UserIdPath,
        n: CountQuery = 10,
        min_ratings: MinRatingsQuery = 0,
        include: Annotated[list[str] | None, Query(
            max_length=schemas.MAX_N * 100, description=schemas.INCLUDE_HELP)] = None,
        exclude: Annotated[list[str] | None, Query(
            max_length=schemas.MAX_N * 100, description=schemas.EXCLUDE_HELP)] = None,
    ) -> Any:
        """Top-``n`` for a known user, folding in any ratings stored for them.

        ``min_ratings``, ``include`` and ``exclude`` (repeatable; items by id or title,
        genres as ``genre:NAME``) filter the items, as in ``POST /recommendations``.
        """
        item_filter = ItemFilter.of(min_ratings, include, exclude)
        query = service.shaped(service.user_query(user_id), n, item_filter)
        return FastJSONResponse((await batcher.answer(query)).to_json())

    @app.post("/recommendations", response_model=schemas.Recommendations,
              tags=["recommendations"], responses=ERRORS)
    async def ratings_recommendations(body: schemas.RecommendRequest) -> Any:
        """Top-``n`` for a new user from their ratings, with "because you rated" lines.

        No ratings at all gives the cold-start answer (``strategy`` says so).
        ``min_ratings``, ``include`` and ``exclude`` filter the items (genres as
        ``genre:NAME``).
        """
        item_filter = ItemFilter.of(body.min_ratings, body.include, body.exclude)
        query = service.shaped(service.ratings_query(body.ratings), body.n, item_filter)
        return FastJSONResponse((await batcher.answer(query)).to_json())

    @app.post("/users/{user_id}/ratings", response_model=schemas.Stored, tags=["ratings"],
              **private)
    def store_ratings(user_id: UserIdPath, body: schemas.StoreRatingsRequest) -> dict[str, Any]:
        """Store a user's ratings durably; their next recommendations reflect them."""
        return service.add_ratings(user_id, body.ratings)
