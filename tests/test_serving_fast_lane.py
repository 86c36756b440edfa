"""The fast lane answers plainly valid recommendation requests exactly as the full app does.

Two servers over one ml-100k bundle, one with :mod:`embrec.serving.fast_lane` and one
without: every request below gets the same status, body and headers from both, the
plain ones answered by the lane, everything else (errors, filters in the query
string, other content types) passed on to the application.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from embrec.data.datasets import load_dataset
from embrec.serving import create_app
from embrec.serving.fast_lane import FastLane, plain_count
from embrec.serving.local import running_in_thread
from embrec.training.fit import fit

TOKEN = "lane-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMPARED_HEADERS = ("content-type", "content-length", "content-security-policy",
                    "x-frame-options", "x-content-type-options", "www-authenticate")


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory) -> Path:
    trained = fit(load_dataset("ml-100k", data_dir=data_dir), "mf-bias", epochs=1, seed=0,
                  threads=1, verbose=False)
    return trained.save(tmp_path_factory.mktemp("lane") / "mf-bias")


def lane_of(app) -> FastLane:
    layer = app.middleware_stack
    while not isinstance(layer, FastLane):
        layer = layer.app
    return layer


@pytest.fixture(scope="module")
def servers(model_dir):
    """``(with lane, without lane, the with-lane app)`` clients, both with a token."""
    with ExitStack() as stack:
        apps = [create_app(model_dir, token=TOKEN, fast_lane=lane) for lane in (True, False)]
        clients = [stack.enter_context(httpx.Client(
            base_url=stack.enter_context(running_in_thread(app)), timeout=30)) for app in apps]
        yield clients[0], clients[1], apps[0]


def same_answer(servers, method: str, path: str, **options) -> httpx.Response:
    fast, full, _ = servers
    one, other = fast.request(method, path, **options), full.request(method, path, **options)
    assert (one.status_code, one.content) == (other.status_code, other.content), path
    for name in COMPARED_HEADERS:
        assert one.headers.get(name) == other.headers.get(name), name
    return one


@pytest.mark.parametrize(("query", "n"), [
    (b"", 10), (b"n=1", 1), (b"n=100", 100), (b"n=7", 7), (b"n=101", None), (b"n=0", None),
    (b"n=010", None), (b"n=10&min_ratings=5", None), (b"m=3", None), (b"n=", None),
])
def test_only_an_empty_query_or_n_alone_is_plain(query, n):
    assert plain_count(query) == n


def test_plain_requests_take_the_lane_and_answer_as_the_application_does(servers):
    requests = [("GET", f"/users/{user}/recommendations{q}", {"headers": AUTH})
                for user in (196, 1, 943) for q in ("", "?n=1", "?n=25")]
    requests += [("POST", "/recommendations", {"json": body}) for body in (
        {"ratings": {"50": 5, "181": 4, "Toy Story (1995)": 1}, "n": 12},
        {"ratings": {"100": 5}, "min_ratings": 50, "exclude": ["genre:Comedy"]},
        {},
    )]
    for method, path, options in requests:
        answer = same_answer(servers, method, path, **options)
        assert answer.status_code == 200 and answer.json()["items"]
    assert lane_of(servers[2]).answered == len(requests)
    assert len(same_answer(servers, *requests[2][:2], **requests[2][2]).json()["items"]) == 25


def test_everything_else_is_answered_by_the_application(servers):
    lane = lane_of(servers[2]) if servers[2].middleware_stack else None
    before = lane.answered if lane else 0
    cases = [
        ("GET", "/users/196/recommendations", {}, 401),  # the token gate comes first
        ("GET", "/users/no-such-user/recommendations", {"headers": AUTH}, 404),
        ("GET", "/users/196/recommendations?n=0", {"headers": AUTH}, 422),
        ("GET", "/users/196/recommendations?n=101", {"headers": AUTH}, 422),
        ("GET", "/users/196/recommendations?n=5&min_ratings=100", {"headers": AUTH}, 200),
        ("GET", "/users/196/recommendations?include=genre:Horror", {"headers": AUTH}, 200),
        ("POST", "/recommendations", {"content": b"{not json",
                                      "headers": {"content-type": "application/json"}}, 400),
        ("POST", "/recommendations", {"json": {"ratings": {"no such film xyzzy": 5}}}, 422),
        ("POST", "/recommendations", {"json": {"ratings": {"50": 9}}}, 422),
        ("POST", "/recommendations", {"json": {"ratings": {"50": 5}, "n": 0}}, 422),
        ("POST", "/recommendations", {"json": {"ratings": {"50": 5}, "extra": 1}}, 422),
        ("POST", "/recommendations", {"content": b'{"ratings": {"50": 5}}',
                                      "headers": {"content-type": "text/plain"}}, None),
    ]
    for method, path, options, status in cases:
        answer = same_answer(servers, method, path, **options)
        assert status is None or answer.status_code == status, (path, answer.text)
    assert lane_of(servers[2]).answered == before
