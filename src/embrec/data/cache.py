"""The embrec cache folder: downloaded datasets and parsed ratings that load in milliseconds.

The cache root is, first to last: a ``cache_dir`` argument, ``$EMBREC_CACHE_DIR``,
``$XDG_CACHE_HOME/embrec`` (when ``XDG_CACHE_HOME`` is an absolute path, as the
XDG base directory specification requires), ``~/.cache/embrec``. Layout under it::

    datasets/<archive folder>/   extracted official archives (ml-100k/, ml-10M100K/, ...)
    parsed/<name>-<key>/          ratings.npz, meta.json, item_info.parquet, user_info.parquet

A parsed entry is keyed on the size and modification time of every source file
(and the reader options), so editing or replacing a file parses it again.
Entries are written to a temporary folder and renamed into place; nothing is
pickled (``np.load(allow_pickle=False)``, JSON, Parquet).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale

CACHE_ENV = "EMBREC_CACHE_DIR"
XDG_CACHE_ENV = "XDG_CACHE_HOME"
PARSED_FORMAT = 1


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$EMBREC_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/embrec``, else ``~/.cache/embrec``.

    A relative ``XDG_CACHE_HOME`` is ignored (the XDG specification says so).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get(XDG_CACHE_ENV)
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "embrec"
    return Path.home() / ".cache" / "embrec"


def datasets_dir(cache_dir: str | Path | None = None) -> Path:
    return cache_root(cache_dir) / "datasets"


def parsed_key(files: Iterable[Path], **options: Any) -> str:
    """A short hash of the files' paths, sizes and mtimes and of the reader options."""
    digest = hashlib.sha256(f"format={PARSED_FORMAT}".encode())
    for path in sorted(Path(p) for p in files):
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def parsed_dir(name: str, key: str, cache_dir: str | Path | None = None) -> Path:
    return cache_root(cache_dir) / "parsed" / f"{name}-{key}"


def load_parsed(folder: Path) -> Ratings | None:
    """The ratings stored in a parsed entry, or None when it is missing or unreadable."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != PARSED_FORMAT:
            return None
        with np.load(folder / "ratings.npz", allow_pickle=False) as arrays:
            columns = {key: arrays[key] for key in arrays.files}
        item_info = _read_frame(folder / "item_info.parquet")
        user_info = _read_frame(folder / "user_info.parquet")
        return Ratings(
            columns["users"],
            columns["items"],
            columns["values"],
            IdMap.from_json(meta["user_ids"]),
            IdMap.from_json(meta["item_ids"]),
            RatingScale.from_json(meta["scale"]),
            timestamps=columns.get("timestamps"),
            item_info=item_info,
            user_info=user_info,
            name=meta["name"],
            source=meta["source"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_frame(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_parquet(path)


def save_parsed(ratings: Ratings, folder: Path) -> bool:
    """Store ratings in a parsed entry (atomically); False when the cache cannot be written.

    Older entries of the same name (other keys) are removed.
    """
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
    except OSError:
        return False
    try:
        arrays = {"users": ratings.users, "items": ratings.items, "values": ratings.values}
        if ratings.timestamps is not None:
            arrays["timestamps"] = ratings.timestamps
        np.savez(staging / "ratings.npz", **arrays)
        meta = {
            "format": PARSED_FORMAT,
            "name": ratings.name,
            "scale": ratings.scale.to_json(),
            "source": ratings.source,
            "user_ids": ratings.user_ids.to_json(),
            "item_ids": ratings.item_ids.to_json(),
        }
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if ratings.item_info is not None:
            ratings.item_info.to_parquet(staging / "item_info.parquet")
        if ratings.user_info is not None:
            ratings.user_info.to_parquet(staging / "user_info.parquet")
        prefix = folder.name.rsplit("-", 1)[0] + "-"
        for old in parent.glob(f"{prefix}*"):
            if old.is_dir() and old != folder and old.name.rsplit("-", 1)[0] + "-" == prefix:
                shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        return True
    except (OSError, ValueError, TypeError):
        return False
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
