"""Response bodies encode alike with orjson and with the standard library."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embrec.serving import encoding

BODY = {
    "items": [{"item_id": np.int64(50), "title": "Amélie (2001)", "score": np.float32(4.25),
               "because": ["Star Wars (1977)"]}],
    "scores": np.asarray([4.5, 3.0], dtype=np.float32),
    "user_id": None, "n_ratings_used": 3, 7: "an int key",
}
EXPECTED = {"items": [{"item_id": 50, "title": "Amélie (2001)", "score": 4.25,
                       "because": ["Star Wars (1977)"]}],
            "scores": [4.5, 3.0], "user_id": None, "n_ratings_used": 3, "7": "an int key"}


@pytest.mark.parametrize("with_orjson", [True, False])
def test_bodies_are_compact_utf8_json_of_numpy_values(with_orjson, monkeypatch):
    if with_orjson and encoding.orjson is None:
        pytest.skip("orjson is not installed")
    if not with_orjson:
        monkeypatch.setattr(encoding, "orjson", None)
    body = encoding.json_bytes(BODY)
    assert json.loads(body) == EXPECTED
    assert b", " not in body and "Amélie".encode() in body
    assert encoding.FastJSONResponse(BODY).body == body
