"""Every operation answers as its OpenAPI schema says, never with a 5xx, with and without the
token: schemathesis generates requests from the schema and runs them against the app in-process.

Bounded by ``MAX_EXAMPLES`` per operation and test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from embrec.serving import create_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_EXAMPLES = 50


def build_schemas() -> tuple[schemathesis.BaseSchema, schemathesis.BaseSchema]:
    """The schemas of two apps over one small bundle: with the token, and without one.

    Built when the module is collected, as schemathesis' ``parametrize`` needs the
    schema then (its lazy fixture loader does not run under this pytest). The
    bundle is mf-bias on 2,000 synthetic ratings (60 users, 80 items), 1 epoch.
    """
    from embrec.data.synthetic import generate_ratings
    from embrec.training.fit import fit

    folder = Path(WORKSPACE.name)
    ratings = generate_ratings(60, 80, 2000, seed=5)
    model = fit(ratings, "mf-bias", epochs=1, solver="torch", seed=0, threads=1)
    locked = create_app(model, db_path=folder / "locked.sqlite", token=TOKEN)
    local = create_app(model, db_path=folder / "local.sqlite")
    config = SchemathesisConfig.from_str(CONFIG)
    return tuple(
        schemathesis.openapi.from_asgi("/openapi.json", without_lifespan(app), config=config)
        for app in (locked, local)
    )


def without_lifespan(app):
    """The app with its lifespan left out: schemathesis ends an app's lifespan after each test
    and starts it again for the next, but the app's store closes for good at the first end.
    (A server runs the lifespan once; the stores here close when the process ends.)"""

    async def serve(scope, receive, send):
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return serve


# A body over the size limit is refused with 413 before it is parsed, which is a
# refusal of invalid data as much as a 422 is. A schema cannot say which ids the
# model knows: a schema-valid request naming an unknown item is a 422 by design
# (the detail names the closest titles), so it counts as a valid request's answer.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 405, 413, 422]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", 401, 404, 413, 422]
"""


WORKSPACE = tempfile.TemporaryDirectory(prefix="embrec-contract-")
with_token, without_token = build_schemas()
BOUND = settings(max_examples=MAX_EXAMPLES, deadline=None,
                 suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.slow
@with_token.parametrize()
@BOUND
def test_every_operation_matches_its_schema_with_the_token(case):
    case.call_and_validate(headers=AUTH)


@pytest.mark.slow
@with_token.parametrize()
@BOUND
def test_every_operation_matches_its_schema_without_the_token(case):
    case.call_and_validate()


@pytest.mark.slow
@without_token.parametrize()
@BOUND
def test_every_operation_matches_its_schema_on_a_server_without_a_token(case):
    case.call_and_validate()
