"""The results file of a sweep: a tidy CSV, one row per (point, fold), append-only.

Each row is written with a single ``write`` of one line, then flushed and
fsynced, so a crash can at worst leave the last line incomplete. That tail has no
newline; it is ignored when reading and cut off before the next append, so the
rows before it are never touched. JSON columns (``params``, ``hyperparameters``,
``config``, ``history``, ``activity``) are single-line JSON.

A row is identified by model, requested solver, requested hyperparameters (seed
included, ``threads`` excluded: it changes speed, not the result's meaning),
fold and data fingerprint; a sweep skips the rows whose identity is already in
the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from embrec.errors import DataError
from embrec.version import __version__

if TYPE_CHECKING:
    from embrec.evaluation.crossval import FoldResult
    from embrec.evaluation.parallel import FoldTask

COLUMNS: tuple[str, ...] = (
    "model", "params", "fold", "seed", "rmse", "mae", "rmse_unclipped",
    "fit_seconds", "predict_seconds", "seconds", "n_train", "n_test", "epochs",
    "solver", "hyperparameters", "config", "dataset", "fingerprint", "embrec_version", "finished",
    "history", "activity",
)  # fmt: skip
"""Columns of a results file, in order."""

NUMERIC = ("seed", "rmse", "mae", "rmse_unclipped", "fit_seconds", "predict_seconds",
           "seconds", "n_train", "n_test", "epochs")

RowKey = tuple[str, str, str, str, str]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal settings give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def requested(hyper: Mapping[str, Any]) -> str:
    """The identity of a request's hyperparameters (``threads`` left out)."""
    return canonical_json({k: v for k, v in hyper.items() if k != "threads"})


class ResultsFile:
    """An append-only CSV of sweep rows (see the module docstring)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise DataError("results file not found", path=self.path)
        self._repaired = False

    @staticmethod
    def key(model: str, solver: str | None, hyper: Mapping[str, Any], fold: str,
            fingerprint: str) -> RowKey:
        return (model, solver or "", requested(hyper), fold, fingerprint)

    @staticmethod
    def row_key(row: Any) -> RowKey:
        """The identity of a row read back (a namedtuple from ``read().itertuples()``)."""
        return (row.model, row.solver, row.hyperparameters, row.fold, row.fingerprint)

    def _complete_lines(self) -> tuple[str, int]:
        """The text up to the last newline, and the byte length of that part."""
        if not self.path.is_file():
            return "", 0
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        return data[:end].decode("utf-8"), end

    def read(self) -> pd.DataFrame:
        """The complete rows as a DataFrame (numeric columns as numbers)."""
        text, _ = self._complete_lines()
        records = list(csv.reader(io.StringIO(text)))
        if not records:
            return pd.DataFrame(columns=list(COLUMNS))
        header, body = records[0], records[1:]
        if tuple(header) != COLUMNS:
            raise DataError(
                f"not a sweep results file: its header is {','.join(header[:4])}..., "
                f"expected {','.join(COLUMNS[:4])}...",
                path=self.path, line=1, hint="pass another --results file",
            )
        frame = pd.DataFrame([r for r in body if len(r) == len(COLUMNS)], columns=list(COLUMNS))
        for column in NUMERIC:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        return frame

    def done_keys(self) -> set[RowKey]:
        return {self.row_key(r) for r in self.read().itertuples()}

    def _prepare(self) -> None:
        """Write the header of a new file, or cut an incomplete last line off an old one."""
        if self._repaired:
            return
        self.read()
        _, complete = self._complete_lines()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size != complete:
            with open(self.path, "r+b") as handle:
                handle.truncate(complete)
        if complete == 0:
            self._write_line(COLUMNS)
        self._repaired = True

    def _write_line(self, values: tuple[Any, ...] | list[Any]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        with open(self.path, "a", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row (a dict over :data:`COLUMNS`) and make it durable."""
        missing = [c for c in COLUMNS if c not in row]
        if missing:
            raise DataError(f"a results row lacks column {missing[0]!r}", path=self.path)
        self._prepare()
        self._write_line([row[c] for c in COLUMNS])


def row_of(
    task: FoldTask, params: Mapping[str, Any], result: FoldResult, fingerprint: str,
    dataset: str = "",
) -> dict[str, Any]:
    """The results-file row of one finished task."""
    return {
        "model": task.model,
        "params": canonical_json(dict(params)),
        "fold": result.fold,
        "seed": task.hyper.get("seed", 0),
        "rmse": result.rmse,
        "mae": result.mae,
        "rmse_unclipped": result.rmse_unclipped,
        "fit_seconds": round(result.fit_seconds, 4),
        "predict_seconds": round(result.predict_seconds, 4),
        "seconds": round(result.seconds, 4),
        "n_train": result.n_train,
        "n_test": result.n_test,
        "epochs": len(result.history.get("epochs", [])),
        "solver": task.solver or "",
        "hyperparameters": requested(task.hyper),
        "config": canonical_json(result.config),
        "dataset": dataset,
        "fingerprint": fingerprint,
        "embrec_version": __version__,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "history": canonical_json(result.history),
        "activity": canonical_json(result.activity),
    }
