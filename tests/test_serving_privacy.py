"""The HTTP surface keeps stored ratings private: the token guards every read of them,
is checked before the body, /health hides the store's details, and every response
carries the security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embrec.serving import create_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALICE = "alice_secret"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """mf-bias on 2,000 synthetic ratings (60 users, 80 items), 3 epochs."""
    from embrec.data.synthetic import generate_ratings
    from embrec.training.fit import fit

    ratings = generate_ratings(60, 80, 2000, seed=3)
    folder = tmp_path_factory.mktemp("privacy") / "model"
    return fit(ratings, "mf-bias", epochs=3, solver="torch", seed=0).save(folder)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "ratings.sqlite"


@pytest.fixture(scope="module")
def client(model_dir, db_path):
    with TestClient(create_app(model_dir, db_path=db_path, token=TOKEN)) as http:
        ratings = {str(item): 5 if item <= 6 else 1 for item in range(1, 9)}
        stored = http.post(f"/users/{ALICE}/ratings", json={"ratings": ratings}, headers=AUTH)
        assert stored.status_code == 200, stored.text
        yield http


def refused(response, fragment: str = "Bearer") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert fragment in response.json()["detail"]


def test_a_stored_users_recommendations_need_the_token(client):
    path = f"/users/{ALICE}/recommendations?n=100"
    anonymous = client.get(path)
    refused(anonymous)
    assert "n_ratings_used" not in anonymous.text and "because" not in anonymous.text
    refused(client.get(path, headers={"Authorization": "Bearer guess"}), "wrong bearer token")
    answer = client.get(path, headers=AUTH).json()
    assert answer["n_ratings_used"] == 8
    assert any(item.get("because") for item in answer["items"])


def test_predict_from_stored_ratings_needs_the_token(client):
    body = {"pairs": [{"user_id": ALICE, "item_id": "20"}, {"user_id": "1", "item_id": "2"}]}
    refused(client.post("/predict", json=body))
    answer = client.post("/predict", json=body, headers=AUTH).json()
    assert len(answer["predictions"]) == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [("/predict", b'{"pairs": [{"user_id": '), (f"/users/{ALICE}/ratings", b'{"ratings": {"1"')],
)
def test_the_token_is_checked_before_the_body_is_parsed(client, path, body):
    headers = {"Content-Type": "application/json"}
    refused(client.post(path, content=body, headers=headers))
    malformed = client.post(path, content=body, headers=headers | AUTH)
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["detail"]


def test_open_endpoints_stay_open_without_the_token(client):
    assert client.get("/items?query=1").status_code == 200
    answer = client.post("/recommendations", json={"ratings": {"3": 5, "4": 4}, "n": 5})
    assert answer.status_code == 200 and answer.json()["items"]
    assert client.get("/").status_code == 200


def test_health_shows_the_store_details_only_with_the_token(client, db_path):
    public = client.get("/health").json()
    assert public["status"] == "ok" and public["store"] == {"kind": "sqlite"}
    assert str(db_path) not in client.get("/health").text
    private = client.get("/health", headers=AUTH).json()
    assert private["store"]["path"] == str(db_path) and private["store"]["n_ratings"] == 8


def test_without_a_token_the_local_server_shows_everything(model_dir, tmp_path):
    db = tmp_path / "local.sqlite"
    with TestClient(create_app(model_dir, db_path=db)) as http:
        assert http.get("/health").json()["store"]["path"] == str(db)
        assert http.get("/users/1/recommendations").status_code == 200


@pytest.mark.parametrize("path", ["/", "/health", "/static/app.js", "/docs", "/users/1/ratings",
                                  "/items/nope"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "http" not in policy  # same origin only: no external source anywhere
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    if not path.startswith("/docs"):
        assert "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
