"""The HTTP API on a small real model: every endpoint, the token, bad input never a 500,
stored ratings changing the next answer at once, and no acknowledged write lost to SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embrec.bundle import load
from embrec.cli import main
from embrec.data.datasets import load_dataset
from embrec.serving import Limits, create_app, open_store
from embrec.serving.local import free_port, running_in_thread, wait_until_healthy
from embrec.training.fit import fit

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STAR_WARS, EMPIRE, TOY_STORY, FARGO = 50, 172, 1, 100


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory) -> Path:
    """mf-bias trained on all of ml-100k for 3 epochs, saved as a bundle."""
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    trained = fit(ratings, "mf-bias", epochs=3, seed=0, threads=1)
    return trained.save(tmp_path_factory.mktemp("serving") / "mf-bias")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "ratings.sqlite"


@pytest.fixture(scope="module")
def client(model_dir, db_path):
    app = create_app(model_dir, db_path=db_path, token=TOKEN,
                     limits=Limits(max_body_bytes=64 * 1024, max_ratings=200, max_pairs=300))
    with running_in_thread(app) as url, httpx.Client(base_url=url, timeout=30,
                                                     headers=AUTH) as http:
        yield http


def ids(answer: dict) -> list:
    return [item["item_id"] for item in answer["items"]]


def check_error(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and fragment in detail


# -- reading ----------------------------------------------------------------------------


def test_health_names_the_model_version_catalogue_and_store(client, db_path):
    health = client.get("/health", headers=AUTH).json()
    assert health["status"] == "ok" and health["model"] == "mf-bias"
    assert health["embrec_version"] and health["n_items"] == 1682 and health["n_users"] == 943
    assert health["scale"] == {"low": 1.0, "high": 5.0, "step": 1.0}
    assert health["store"]["path"] == str(db_path) and health["store"]["journal_mode"] == "wal"
    assert health["writes_need_token"] is True


@pytest.mark.parametrize(
    ("query", "expected"),
    [("star wars", STAR_WARS), ("STAR WARS (1977)", STAR_WARS), ("star wa", STAR_WARS),
     ("star wras", STAR_WARS), ("the empire strikes back", EMPIRE), ("empire strikes", EMPIRE),
     ("Usual Suspects, The", 12), ("fargo", FARGO), ("50", STAR_WARS)],
)
def test_item_search_forgives_case_years_articles_order_and_typos(client, query, expected):
    answer = client.get("/items", params={"query": query, "limit": 5}).json()
    assert answer["query"] == query and ids(answer)[0] == expected


def test_an_empty_search_lists_the_most_rated_items(client):
    items = client.get("/items", params={"limit": 3}).json()["items"]
    assert [i["item_id"] for i in items] == [STAR_WARS, 258, FARGO]
    star_wars = items[0]
    assert star_wars["n_ratings"] == 583 and star_wars["year"] == 1977
    assert "Sci-Fi" in star_wars["genres"]


def test_one_item_by_id_or_title_and_an_unknown_one_with_the_closest(client):
    assert client.get(f"/items/{STAR_WARS}").json()["title"] == "Star Wars (1977)"
    assert client.get("/items/Star Wars").json()["item_id"] == STAR_WARS
    check_error(client.get("/items/99999"), 404, "1682 items, ids 1..1682")
    check_error(client.get("/items/Star Warz"), 404, "closest: Star Wars (1977) [id 50]")


def test_similar_items_to_star_wars_include_the_empire_strikes_back(client):
    answer = client.get(f"/items/{STAR_WARS}/similar", params={"n": 5}).json()
    assert answer["item_id"] == STAR_WARS and len(answer["items"]) == 5
    assert EMPIRE in ids(answer) and STAR_WARS not in ids(answer)
    assert "item embeddings" in answer["space"]


def test_predict_answers_pairs_in_order_clipped_to_the_scale(client):
    pairs = [{"user_id": 1, "item_id": STAR_WARS}, {"user_id": "2", "item_id": "Toy Story"},
             {"user_id": 1, "item_id": STAR_WARS}]
    predictions = client.post("/predict", json={"pairs": pairs}).json()["predictions"]
    assert [(p["user_id"], p["item_id"]) for p in predictions] == [(1, 50), (2, 1), (1, 50)]
    assert all(1 <= p["rating"] <= 5 and p["source"] == "model" for p in predictions)
    check_error(client.post("/predict", json={"pairs": [{"user_id": "zed", "item_id": 1}]}),
                422, "user 'zed' is not in this model")


def test_known_user_recommendations_leave_out_what_they_rated(client, model_dir):
    answer = client.get("/users/1/recommendations", params={"n": 10}).json()
    assert answer["user_id"] == 1 and answer["strategy"] == "known user"
    assert len(answer["items"]) == 10 and answer["n_ratings_used"] == 272
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True)
    from embrec.bundle import load

    model = load(model_dir)
    seen = set(model.item_ids.to_raw(model.train.items[model.train.users == 0]).tolist())
    assert not seen & set(ids(answer))
    check_error(client.get("/users/nobody/recommendations"), 404, "no stored ratings")


def test_new_user_recommendations_explain_themselves(client):
    ratings = {str(STAR_WARS): 5, "The Empire Strikes Back": 5, "toy story": 4, str(FARGO): 2}
    answer = client.post("/recommendations", json={"ratings": ratings, "n": 10}).json()
    assert answer["strategy"].startswith("fold-in") and answer["n_ratings_used"] == 4
    assert len(answer["items"]) == 10
    assert not {STAR_WARS, EMPIRE, TOY_STORY, FARGO} & set(ids(answer))
    because = [title for item in answer["items"] for title in item["because"]]
    assert because and set(because) <= {"Star Wars (1977)", "Empire Strikes Back, The (1980)",
                                         "Toy Story (1995)"}


def test_new_user_recommendations_echo_the_title_each_rating_matched(client):
    ratings = {"fargo": 5, str(STAR_WARS): 4, "the empire strikes back": 5, "Toy Story (1995)": 3}
    answer = client.post("/recommendations", json={"ratings": ratings, "n": 5}).json()
    assert answer["matched"] == [
        {"input": "fargo", "item_id": FARGO, "title": "Fargo (1996)", "rating": 5.0,
         "matched_by": "title"},
        {"input": "50", "item_id": STAR_WARS, "title": "Star Wars (1977)", "rating": 4.0,
         "matched_by": "id"},
        {"input": "the empire strikes back", "item_id": EMPIRE,
         "title": "Empire Strikes Back, The (1980)", "rating": 5.0, "matched_by": "title"},
        {"input": "Toy Story (1995)", "item_id": TOY_STORY, "title": "Toy Story (1995)",
         "rating": 3.0, "matched_by": "title"},
    ]
    assert client.post("/recommendations", json={"n": 3}).json()["matched"] == []
    assert client.get("/users/1/recommendations", params={"n": 3}).json()["matched"] == []


def test_every_unmatched_title_is_named_with_its_closest_in_one_line(client):
    ratings = {"fargo": 5, "Star Warz 2": 4, "Toy Stroy": 3, "Jurassic Pork": 2}
    response = client.post("/recommendations", json={"ratings": ratings})
    check_error(response, 422, "3 of 4 ratings match no single item; fix or leave them out")
    detail = response.json()["detail"]
    for text, closest in [("Star Warz 2", "Star Wars (1977)"), ("Toy Stroy", "Toy Story (1995)"),
                          ("Jurassic Pork", "Jurassic Park (1993)")]:
        assert f"no item titled {text!r}" in detail and closest in detail
    assert "fargo" not in detail


def test_new_user_recommendations_take_filters(client, model_dir):
    ratings = {str(STAR_WARS): 5, "The Empire Strikes Back": 5}
    body = {"ratings": ratings, "n": 10, "min_ratings": 150, "exclude": ["genre:Drama"]}
    answer = client.post("/recommendations", json=body).json()
    assert answer["scorer"] == "predicted rating" and len(answer["items"]) == 10
    model = load(model_dir)
    items = model.item_ids.indices_of(ids(answer))
    assert model.train.item_counts()[items].min() >= 150
    assert not any("Drama" in model.train.item_info["genres"][i].split("|") for i in items)
    wrong = client.post("/recommendations", json={"ratings": ratings, "include": ["genre:Opera"]})
    assert wrong.status_code in (400, 404, 422) and "no item has genre" in wrong.text


def test_known_user_recommendations_take_filters_as_query_parameters(client, model_dir):
    params = [("n", 10), ("min_ratings", 100), ("include", "genre:Comedy"),
              ("include", "genre:Drama"), ("exclude", "genre:Romance"), ("exclude", "Fargo")]
    answer = client.get("/users/7/recommendations", params=params).json()
    assert len(answer["items"]) == 10 and answer["n_ratings_used"] > 0
    model = load(model_dir)
    items = model.item_ids.indices_of(ids(answer))
    assert model.train.item_counts()[items].min() >= 100
    genres = [set(model.train.item_info["genres"][i].split("|")) for i in items]
    assert all(g & {"Comedy", "Drama"} and "Romance" not in g for g in genres)
    assert FARGO not in ids(answer)
    unfiltered = client.get("/users/7/recommendations", params={"n": 10}).json()
    assert ids(unfiltered) != ids(answer)
    wrong = client.get("/users/7/recommendations", params={"exclude": "genre:Opera"})
    check_error(wrong, 422, "no item has genre 'Opera'")
    negative = client.get("/users/7/recommendations", params={"min_ratings": -1})
    check_error(negative, 422, "query.min_ratings")


def test_no_ratings_at_all_is_the_labelled_cold_start_answer(client):
    answer = client.post("/recommendations", json={"n": 5}).json()
    assert answer["strategy"].startswith("cold-start") and len(answer["items"]) == 5


# -- writing ----------------------------------------------------------------------------


def test_stored_ratings_change_the_next_recommendations_at_once(client):
    check_error(client.get("/users/newcomer/recommendations"), 404)
    ratings = {str(STAR_WARS): 5, str(EMPIRE): 5, "Toy Story": 1}
    stored = client.post("/users/newcomer/ratings", json={"ratings": ratings}, headers=AUTH)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"user_id": "newcomer", "stored": 3, "n_stored_ratings": 3}
    mine = client.get("/users/newcomer/recommendations", params={"n": 10}).json()
    anonymous = client.post("/recommendations", json={"ratings": ratings, "n": 10}).json()
    assert mine["user_id"] == "newcomer" and mine["strategy"].startswith("fold-in")
    assert ids(mine) == ids(anonymous) and not {STAR_WARS, EMPIRE, TOY_STORY} & set(ids(mine))
    client.post("/users/newcomer/ratings", json={"ratings": {"Toy Story": 5}}, headers=AUTH)
    changed = client.get("/users/newcomer/recommendations", params={"n": 10}).json()
    assert [i["score"] for i in changed["items"]] != [i["score"] for i in mine["items"]]
    prediction = client.post("/predict", json={"pairs": [{"user_id": "newcomer", "item_id": 181}]})
    assert prediction.json()["predictions"][0]["source"].startswith("fold-in")


def test_a_known_users_stored_ratings_are_folded_in_with_their_training_ratings(client):
    before = client.get("/users/2/recommendations", params={"n": 10}).json()
    assert before["strategy"] == "known user"
    top = before["items"][0]["item_id"]
    client.post("/users/2/ratings", json={"ratings": {str(top): 1}}, headers=AUTH)
    after = client.get("/users/2/recommendations", params={"n": 10}).json()
    assert after["strategy"].startswith("fold-in") and after["user_id"] == 2
    assert after["n_ratings_used"] == before["n_ratings_used"] + 1 and top not in ids(after)


def test_writes_and_reads_of_stored_ratings_need_the_bearer_token(client):
    body = {"ratings": {str(STAR_WARS): 4}}
    anonymous = {"Authorization": ""}
    check_error(client.post("/users/7/ratings", json=body, headers=anonymous), 401, "Bearer")
    check_error(client.post("/users/7/ratings", json=body, headers={"Authorization": "Bearer x"}),
                401, "wrong bearer token")
    assert client.post("/users/7/ratings", json=body, headers=AUTH).status_code == 200
    check_error(client.get("/users/7/recommendations", headers=anonymous), 401, "Bearer")
    assert client.get("/users/7/recommendations", headers=AUTH).status_code == 200


def test_a_server_without_a_store_refuses_writes_with_a_reason(model_dir):
    with running_in_thread(create_app(model_dir)) as url:
        assert httpx.get(f"{url}/health").json()["store"] is None
        response = httpx.post(f"{url}/users/1/ratings", json={"ratings": {"50": 4}})
    check_error(response, 503, "--db PATH")


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("post", "/recommendations", b'{"ratings": {"50": 4', 400, "malformed JSON"),
        ("post", "/recommendations", b"[1, 2]", 422, "body"),
        ("post", "/recommendations", {"ratings": {}, "colour": "red"}, 422, "body.colour"),
        ("post", "/recommendations", {"ratings": {"50": "4"}}, 422, "finite number"),
        ("post", "/recommendations", {"ratings": {"50": True}}, 422, "finite number"),
        ("post", "/recommendations", b'{"ratings": {"50": NaN}}', 422, "finite number"),
        ("post", "/recommendations", {"ratings": {"50": 6}}, 422, "rating scale 1..5"),
        ("post", "/recommendations", {"ratings": {"50": 4, "Star Wars": 3}}, 422, "rate it once"),
        ("post", "/recommendations", {"ratings": {"Star Warz 2": 4}}, 422, "closest"),
        ("post", "/recommendations", {"ratings": {"99999": 4}}, 422, "not in this model"),
        ("post", "/recommendations", {"ratings": {}, "n": 0}, 422, "body.n"),
        ("post", "/recommendations", {"ratings": {str(i): 3 for i in range(1, 202)}}, 413,
         "at most 200"),
        ("post", "/predict", {"pairs": []}, 422, "body.pairs"),
        ("post", "/predict", {"pairs": [{"user_id": 1.5, "item_id": 1}]}, 422, "integer or a text"),
        ("post", "/predict", {"pairs": [{"user_id": 1, "item_id": 1}] * 301}, 413, "at most 300"),
        ("post", "/predict", {"pairs": [{"user_id": "x" * 201, "item_id": 1}]}, 422, "1..200"),
        ("post", "/users/1/ratings", {"ratings": {}}, 422, "body.ratings"),
        ("post", "/users/%20/ratings", {"ratings": {"1": 4}}, 422, "must not be blank"),
        ("get", "/users/" + "9" * 30 + "/recommendations", None, 404, "not in this model"),
        ("get", "/users/1/recommendations?n=1000", None, 422, "query.n"),
        ("get", "/items?limit=abc", None, 422, "query.limit"),
        ("get", "/items?query=" + "x" * 300, None, 422, "query.query"),
        ("get", "/users/" + "u" * 300 + "/recommendations", None, 422, "path.user_id"),
    ],
)
def test_bad_input_is_a_4xx_with_a_one_line_reason(client, method, path, body, status, fragment):
    options: dict = {"headers": {**AUTH, "Content-Type": "application/json"}}
    if isinstance(body, bytes):
        options["content"] = body
    elif body is not None:
        options["content"] = json.dumps(body)
    check_error(client.request(method.upper(), path, **options), status, fragment)


def test_oversized_bodies_are_refused_before_parsing_declared_or_streamed(client):
    big = b'{"ratings": {' + b'"1": 5, ' * 10_000 + b'"2": 4}}'
    check_error(client.post("/recommendations", content=big,
                            headers={"Content-Type": "application/json"}), 413, "65536-byte limit")

    def chunks():
        yield b'{"ratings": {'
        for _ in range(200):
            yield b'"1": 5, ' * 50
        yield b'"2": 4}}'

    check_error(client.post("/recommendations", content=chunks(),
                            headers={"Content-Type": "application/json"}), 413, "limit")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                    children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"ratings": st.dictionaries(st.text(max_size=30), json_values,
                                                      max_size=6)}, optional={"n": json_values}),
    st.fixed_dictionaries({"pairs": st.lists(st.fixed_dictionaries(
        {"user_id": json_values, "item_id": json_values}), max_size=4)}),
)
paths = st.sampled_from(["/recommendations", "/predict", "/users/{x}/ratings"])
gets = st.sampled_from(["/items/{x}", "/items/{x}/similar", "/users/{x}/recommendations",
                        "/items?query={x}", "/users/{x}/recommendations?n={x}"])
segment = st.one_of(
    st.text(min_size=1, max_size=40),
    st.from_regex(r"-?[0-9]{1,40}", fullmatch=True),
    st.sampled_from([" ", "0", "-1", "%", "Star Wars", "9" * 25]),
).filter(lambda s: s not in {".", ".."})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(path=paths, body=bodies, raw=st.booleans(), segment=segment)
def test_hammering_the_writes_and_fold_in_with_random_json_never_gives_a_500(
    client, path, body, raw, segment
):
    url = path.replace("{x}", httpx.URL("", params={"x": segment}).query.decode()[2:])
    content = json.dumps(body, allow_nan=True).encode()
    if raw:
        content = content[: len(content) // 2]
    response = client.post(url, content=content,
                           headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "\n" not in response.json()["detail"]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(template=gets, segment=segment)
def test_hammering_the_reads_with_odd_ids_never_gives_a_500(client, template, segment):
    quoted = httpx.URL("", params={"x": segment}).query.decode()[2:]
    response = client.get(template.replace("{x}", quoted))
    assert response.status_code < 500, response.text


def test_concurrent_requests_of_every_kind_all_succeed(client):
    def one(k: int) -> int:
        if k % 3 == 0:
            return client.get(f"/users/{k % 900 + 1}/recommendations").status_code
        if k % 3 == 1:
            body = {"ratings": {str(k % 1600 + 1): 4, str(STAR_WARS): 5}, "n": 10}
            return client.post("/recommendations", json=body).status_code
        return client.post(f"/users/c{k}/ratings", json={"ratings": {str(k % 1600 + 1): 3}},
                           headers=AUTH).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(96))) == {200}


# -- the page, the schema, the command ----------------------------------------------------------


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Find your next movie" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_the_openapi_schema_lists_every_endpoint(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/health", "/items", "/items/{item_id}", "/items/{item_id}/similar", "/predict",
        "/users/{user_id}/recommendations", "/recommendations", "/users/{user_id}/ratings",
    }
    assert schema["components"]["schemas"]["Pair"]["additionalProperties"] is False
    matched = schema["components"]["schemas"]["Recommendations"]["properties"]["matched"]
    assert matched["items"]["$ref"].endswith("/MatchedRating")


def test_the_api_docs_load_only_files_the_server_itself_serves(client):
    for page, needed in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")),
                         ("/redoc", ("redoc.standalone.js", "favicon.png"))):
        response = client.get(page)
        html = response.text
        assert "://" not in html, f"{page} names another host"
        assert "img-src 'self' data:;" in response.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sorted(Path(url).name for url in assets) == sorted(needed)
        for url in assets:
            asset = client.get(url)
            assert asset.status_code == 200, url
            kind = {".js": "javascript", ".css": "text/css", ".png": "image/png"}[Path(url).suffix]
            assert kind in asset.headers["content-type"] and len(asset.content) > 1000
    bundle = client.get("/static-offline-docs/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert '"validatorUrl": null' in client.get("/docs").text


def test_serve_with_a_missing_bundle_exits_2_with_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "not a model bundle" in capsys.readouterr().err


# -- durability -----------------------------------------------------------------------------


def start_server(model_dir: Path, db: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "embrec", "serve", str(model_dir), "--host", "127.0.0.1",
               "--port", str(port), "--db", str(db), "--log-level", "warning"]
    env = {**os.environ, "EMBREC_TOKEN": TOKEN}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", timeout=90, process=process)
    except BaseException:
        process.kill()
        raise
    return process


def test_every_acknowledged_write_survives_sigkill_of_the_server(model_dir, tmp_path):
    db = tmp_path / "ratings.sqlite"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(model_dir, db, port)
    acknowledged: list[tuple[str, int, int]] = []
    stop = threading.Event()

    def write(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=5, headers=AUTH) as http:
            for k in range(10_000):
                if stop.is_set():
                    return
                user, item, rating = f"w{worker}-{k}", k % 1682 + 1, k % 5 + 1
                try:
                    response = http.post(f"/users/{user}/ratings",
                                         json={"ratings": {str(item): rating}})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acknowledged.append((user, item, rating))

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    try:
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=10)
        if process.poll() is None:
            process.kill()
    assert len(acknowledged) >= 150

    restarted = start_server(model_dir, db, port)
    try:
        with open_store(db) as store:
            for user, item, rating in acknowledged:
                assert store.ratings_of(user) == {item: float(rating)}, user
        health = httpx.get(f"{url}/health", headers=AUTH).json()
        assert health["store"]["n_ratings"] >= len(acknowledged)
        answer = httpx.get(f"{url}/users/{acknowledged[-1][0]}/recommendations",
                           headers=AUTH).json()
        assert answer["strategy"].startswith("fold-in")
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)
