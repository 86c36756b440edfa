"""Shared fixtures: where the real MovieLens files are.

The files are not part of the project (their license forbids redistribution).
Tests find them through ``EMBREC_DATA_DIR`` or, by default, ``../shared/data``
beside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path | None:
    configured = os.environ.get("EMBREC_DATA_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "ml-100k" / "u.data").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding ml-100k/, ml-latest-small/, ... in their official layout."""
    found = real_data_dir()
    if found is None:
        pytest.fail(
            "real MovieLens data not found: set EMBREC_DATA_DIR to a folder holding ml-100k/ "
            "(../shared/data beside the checkout is used by default)"
        )
    return found
