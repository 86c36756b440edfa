"""Shared fixtures: where the real MovieLens files are.

The files are not part of the project (their license forbids redistribution).
``data_dir`` is a folder holding ``ml-100k/`` in its official layout, found, first
to last, in:

1. ``$EMBREC_DATA_DIR``, else ``../shared/data`` beside the checkout (the team's
   data folder, which also holds ml-latest-small, ml-1m and ml-10m metadata);
2. the embrec cache (``$EMBREC_CACHE_DIR``, ``$XDG_CACHE_HOME/embrec`` or
   ``~/.cache/embrec``), where ml-100k is fetched exactly as ``make demo`` and
   ``embrec.load_dataset("ml-100k")`` fetch it: from GroupLens, else from the
   RecBole wheel on the Python package index.

Tests that need another data set ask ``data_dir_with("ml-latest-small")``: it is
skipped, with one line saying how to enable it, when the data folder lacks it
(those data sets are not fetched for the tests). When ml-100k cannot be obtained
at all, its tests are skipped likewise (one summary line for all of them), unless
``EMBREC_TEST_REQUIRE_DATA=1`` (CI) makes that stop the run as a failure.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from embrec.data.datasets import DATA_ENV, load_dataset, locate_dataset
from embrec.data.splits import Split, make_split
from embrec.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_ENV = "EMBREC_TEST_REQUIRE_DATA"
ENABLE_HINT = (
    f"set {DATA_ENV} to a folder holding it in the official layout "
    "(default: the team's ../shared/data beside the checkout)"
)


def team_data_dir() -> Path | None:
    """``$EMBREC_DATA_DIR``, else ``../shared/data``, when it holds ``ml-100k/u.data``."""
    configured = os.environ.get(DATA_ENV)
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "ml-100k" / "u.data").is_file():
            return candidate
    return None


def cached_ml100k_dir() -> Path:
    """The cache's data folder, holding ml-100k/ (fetched into the cache when missing).

    Raises :class:`DataError` when ml-100k can be had neither from GroupLens nor
    from the package index.
    """
    folder = locate_dataset("ml-100k")
    if folder is None:
        load_dataset("ml-100k")
        folder = locate_dataset("ml-100k")
    if folder is None:
        raise DataError("ml-100k was fetched but its folder cannot be found")
    return folder.parent


@functools.cache
def resolve_data_dir() -> Path | str:
    """The data folder holding ml-100k/, or the one-line reason it cannot be had (once a run)."""
    found = team_data_dir()
    if found is not None:
        return found
    try:
        return cached_ml100k_dir()
    except DataError as error:
        return f"{error.problem}; {ENABLE_HINT}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, under ``EMBREC_TEST_REQUIRE_DATA=1``, stop the run) when ml-100k is missing.

    Raised here rather than in the fixture, the skips of every test share this
    location and fold into one summary line.
    """
    if "data_dir" not in getattr(item, "fixturenames", ()):
        return
    resolved = resolve_data_dir()
    if isinstance(resolved, str):
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.exit(f"{resolved} ({REQUIRE_ENV}=1)", returncode=pytest.ExitCode.TESTS_FAILED)
        pytest.skip(resolved)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """A data folder holding ``ml-100k/`` in its official layout (see the module docstring)."""
    resolved = resolve_data_dir()
    if isinstance(resolved, str):  # only when pytest_runtest_setup did not run first
        pytest.skip(resolved)
    return resolved


@pytest.fixture
def data_dir_with(data_dir: Path) -> Callable[..., Path]:
    """``data_dir_with("ml-latest-small", "ml-1m/movies.dat")``: the data folder, or a skip.

    The names are folders or files relative to the data folder; the test is
    skipped with one line saying which are missing and how to provide them.
    """

    def require(*names: str) -> Path:
        missing = [name for name in names if not (data_dir / name).exists()]
        if missing:
            pytest.skip(f"needs {', '.join(missing)} in the data folder (not fetched for tests): "
                        f"{ENABLE_HINT}")
        return data_dir

    return require


@pytest.fixture(scope="module")
def u1(data_dir: Path) -> Split:
    """ml-100k's official fold u1: 80,000 training and 20,000 test ratings (once a module)."""
    return make_split(load_dataset("ml-100k", data_dir=data_dir), "u1", data_dir=data_dir)
