"""Where the ratings people give a running server are kept.

:class:`RatingStore` is the small interface the server needs; any database can
stand behind it. :class:`SQLiteRatingStore` is the default: one file, created on
first use, holding the latest rating of each (user, item) pair.

Durability. The database runs in WAL mode with ``synchronous=NORMAL``: a commit
appends the transaction to the write-ahead log with ``write()`` before
``add_ratings`` returns, so once the server has acknowledged a write the bytes are
in the operating system's page cache and survive the server process being
killed (SIGKILL, an out-of-memory kill, a crash). Only a power loss or kernel
crash can lose the last few transactions, because NORMAL does not ``fsync`` the
log at every commit; ``synchronous="FULL"`` does, at the cost of one fsync per
write, for servers that must survive power loss too.

Schema. A ``meta`` table records ``schema_version``. A file written by a newer
embrec (a higher version) is refused with a clear error rather than misread.
Ids are stored as given (SQLite keeps an integer an integer and text text), so
the server coerces them to the model's id type first.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from embrec.errors import EmbrecError

SCHEMA_VERSION = 1
SYNCHRONOUS_MODES = ("NORMAL", "FULL")
BUSY_TIMEOUT_MS = 10_000

RawId = int | str

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    user_id NOT NULL,
    item_id NOT NULL,
    rating REAL NOT NULL,
    rated_at REAL NOT NULL,
    PRIMARY KEY (user_id, item_id)
) WITHOUT ROWID;
"""


class StoreError(EmbrecError):
    """A rating store that cannot be opened or written as asked."""


class InvalidRating(StoreError):
    """An id or rating value that a store cannot keep (not an int or text, not finite...)."""


@dataclass(frozen=True)
class StoredRating:
    """One stored rating: raw ids, the rating and when it was given (unix seconds)."""

    user_id: RawId
    item_id: RawId
    rating: float
    rated_at: float


@runtime_checkable
class RatingStore(Protocol):
    """The ratings a server keeps: the latest rating per (user, item), raw ids throughout."""

    def add_ratings(self, user_id: RawId, ratings: Mapping[RawId, float]) -> int:
        """Store (or replace) ``user_id``'s ratings of items; returns how many were written.

        Returns only once the write is durable (see the module docstring).
        """
        ...

    def ratings_of(self, user_id: RawId) -> dict[RawId, float]:
        """``{item_id: rating}`` stored for one user (empty when none)."""
        ...

    def all_ratings(self) -> list[StoredRating]:
        """Every stored rating, in the order they were last written."""
        ...

    def users(self) -> list[RawId]:
        """The users with at least one stored rating."""
        ...

    def status(self) -> dict[str, Any]:
        """A JSON-able summary: kind, location, schema version, counts."""
        ...

    def close(self) -> None:
        """Release the connection; the store cannot be used afterwards."""
        ...


def check_raw_id(value: Any, what: str) -> RawId:
    """An id as the store keeps it: an int, or a non-empty string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRating(f"{what} {value!r} must be an integer or a string")
    if isinstance(value, str) and not value.strip():
        raise InvalidRating(f"{what} must not be empty")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidRating(f"{what} {value} does not fit in 64 bits")
    return value


class SQLiteRatingStore:
    """A :class:`RatingStore` in one SQLite file (WAL mode; see the module docstring).

    One connection serves every thread of the process, behind a lock; several
    processes may open the same file (SQLite locks it, and waits up to 10 s).
    """

    kind = "sqlite"

    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise StoreError(
                f"synchronous={synchronous!r} is not supported; choose one of "
                f"{', '.join(SYNCHRONOUS_MODES)}"
            )
        self.synchronous = mode
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                isolation_level=None,
            )
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.path}: cannot open the rating store ({error})") from None
        try:
            self._prepare(connection)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise StoreError(
                f"{self.path}: not a usable rating store ({error}); move it aside or pass "
                "another --db path"
            ) from None
        except StoreError:
            connection.close()
            raise
        self._connection = connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        journal = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(journal).lower() != "wal":
            raise StoreError(f"{self.path}: the file system does not support WAL mode")
        connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            found = connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            if found is None:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                connection.execute(
                    "INSERT INTO meta (key, value) VALUES ('created_at', ?)", (str(time.time()),)
                )
            else:
                version = int(found[0]) if str(found[0]).isdigit() else -1
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: rating store schema {version} is newer than this embrec "
                        f"understands ({SCHEMA_VERSION}); upgrade embrec to open it"
                    )
                if version < 1:
                    raise StoreError(f"{self.path}: unreadable schema_version {found[0]!r}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                raise StoreError(f"{self.path}: the rating store is closed")
            try:
                yield self._connection
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: rating store failed ({error})") from None

    # -- the RatingStore interface ----------------------------------------------------

    def add_ratings(self, user_id: RawId, ratings: Mapping[RawId, float]) -> int:
        user = check_raw_id(user_id, "user id")
        rows = []
        now = time.time()
        for item_id, rating in ratings.items():
            item = check_raw_id(item_id, "item id")
            if isinstance(rating, bool) or not isinstance(rating, int | float):
                raise InvalidRating(f"rating {rating!r} of item {item!r} is not a number")
            if not math.isfinite(rating):
                raise InvalidRating(f"rating {rating!r} of item {item!r} is not a finite number")
            rows.append((user, item, float(rating), now))
        if not rows:
            return 0
        with self._use() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT INTO ratings (user_id, item_id, rating, rated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (user_id, item_id) DO UPDATE SET rating = excluded.rating, "
                    "rated_at = excluded.rated_at",
                    rows,
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return len(rows)

    def ratings_of(self, user_id: RawId) -> dict[RawId, float]:
        user = check_raw_id(user_id, "user id")
        with self._use() as connection:
            found = connection.execute(
                "SELECT item_id, rating FROM ratings WHERE user_id = ? ORDER BY rated_at, item_id",
                (user,),
            ).fetchall()
        return {item: float(rating) for item, rating in found}

    def all_ratings(self) -> list[StoredRating]:
        with self._use() as connection:
            found = connection.execute(
                "SELECT user_id, item_id, rating, rated_at FROM ratings "
                "ORDER BY rated_at, user_id, item_id"
            ).fetchall()
        return [StoredRating(u, i, float(r), float(t)) for u, i, r, t in found]

    def users(self) -> list[RawId]:
        with self._use() as connection:
            found = connection.execute(
                "SELECT DISTINCT user_id FROM ratings ORDER BY user_id"
            ).fetchall()
        return [user for (user,) in found]

    def status(self) -> dict[str, Any]:
        with self._use() as connection:
            n_ratings, n_users = connection.execute(
                "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM ratings"
            ).fetchone()
        return {
            "kind": self.kind,
            "path": str(self.path),
            "schema_version": SCHEMA_VERSION,
            "journal_mode": "wal",
            "synchronous": self.synchronous.lower(),
            "n_ratings": int(n_ratings),
            "n_users": int(n_users),
        }

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> SQLiteRatingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteRatingStore({str(self.path)!r}, synchronous={self.synchronous!r})"


def open_store(path: str | Path, synchronous: str = "NORMAL") -> RatingStore:
    """The rating store at ``path`` (SQLite; the file is created on first use)."""
    return SQLiteRatingStore(path, synchronous=synchronous)
