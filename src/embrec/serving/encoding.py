"""JSON response bodies: orjson when it is installed, the standard library otherwise.

The recommendation endpoints return a few kilobytes of JSON per request; the
standard library's encoder spends ~0.1 ms of the server's CPU on it, orjson
(Rust) a tenth of that. Both write the same compact UTF-8 JSON, and both answer
the numpy scalars and arrays a response may carry. They differ only where JSON
has no answer: a non-finite float is ``null`` with orjson and an error (a 500)
with the standard library, which Starlette asks to refuse it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from starlette.responses import JSONResponse

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a default, optional dependency
    orjson = None

ORJSON_OPTIONS = 0 if orjson is None else orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def as_json_value(value: Any) -> Any:
    """The plain Python value of a numpy scalar or array (for the standard encoder)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON."""
    if orjson is not None:
        return orjson.dumps(content, default=as_json_value, option=ORJSON_OPTIONS)
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                      default=as_json_value).encode("utf-8")


class FastJSONResponse(JSONResponse):
    """Starlette's ``JSONResponse``, its body encoded by :func:`json_bytes`."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)
