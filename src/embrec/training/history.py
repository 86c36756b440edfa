"""The per-epoch record of a training run and the table it prints.

The table is the one every notebook of the field prints: epoch, train loss,
validation loss, validation RMSE, time and throughput; see :class:`EpochTable`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

import pandas as pd

from embrec.training.notebook import NotebookProgress, in_notebook


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    valid_loss: float | None
    valid_rmse: float | None
    monitor_rmse: float | None
    seconds: float
    ratings_per_second: float
    lr: float
    phase: str | None = None
    """What kind of epoch it was, for solvers with more than one (Gibbs: burn-in, sampling)."""


@dataclass
class History:
    """All epochs of a run, the best epoch by the monitored RMSE, and how it ended."""

    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    stopped: str = "completed"

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs": [asdict(e) for e in self.epochs],
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> History:
        return cls(
            [EpochRecord(**e) for e in payload.get("epochs", [])],
            payload.get("best_epoch"),
            payload.get("stopped", "completed"),
        )

    def in_rating_units(self, factor: float) -> History:
        """The history with RMSEs times ``factor`` and (squared-error) losses times ``factor²``.

        Training on a rating scale mapped onto the reference range (see
        :mod:`embrec.data.transform`) records reference units; ``factor`` is
        the transform's. A factor of 1 returns the history itself.
        """
        if factor == 1.0:
            return self
        epochs = [record_in_units(e, factor) for e in self.epochs]
        return History(epochs, self.best_epoch, self.stopped)

    def to_pandas(self) -> pd.DataFrame:
        """One row per epoch, indexed by epoch (the columns of :class:`EpochRecord`)."""
        columns = [f for f in EpochRecord.__dataclass_fields__ if f != "epoch"]
        frame = pd.DataFrame([asdict(e) for e in self.epochs], columns=["epoch", *columns])
        return frame.set_index("epoch").astype(float)

    @property
    def train_seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    @property
    def ratings_per_second(self) -> float:
        """Median training throughput over the epochs."""
        rates = sorted(e.ratings_per_second for e in self.epochs)
        return rates[len(rates) // 2] if rates else 0.0


RATING_UNITS: ContextVar[float] = ContextVar("rating_units", default=1.0)
"""Rating units per training unit while a fit trains on a mapped scale; tables print ratings."""


def record_in_units(record: EpochRecord, factor: float) -> EpochRecord:
    """``record`` with RMSEs times ``factor`` and squared-error losses times ``factor²``."""
    if factor == 1.0:
        return record

    def times(value: float | None, by: float) -> float | None:
        return None if value is None else value * by

    return replace(record, train_loss=record.train_loss * factor**2,
                   valid_loss=times(record.valid_loss, factor**2),
                   valid_rmse=times(record.valid_rmse, factor),
                   monitor_rmse=times(record.monitor_rmse, factor))


def _cell(value: float | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


ROUNDS_UP = 0.9995
"""A value at least this share of a unit prints as 1.00 of it, not 1000 of the one below."""


def three_digits(value: float) -> str:
    """``value`` (0 <= value < 1000) with three significant digits: 412, 35.0, 2.35."""
    return f"{value:.0f}" if value >= 99.95 else f"{value:.1f}" if value >= 9.995 else \
        f"{value:.2f}"


def format_seconds(seconds: float) -> str:
    """An epoch's duration with three significant digits: ``12.3s``, ``2.35ms``, ``410µs``."""
    if seconds >= ROUNDS_UP:
        return f"{seconds:.0f}s" if seconds >= 999.5 else f"{three_digits(seconds)}s"
    if seconds >= 1e-3 * ROUNDS_UP:
        return f"{three_digits(seconds * 1e3)}ms"
    if seconds >= 1e-6 * ROUNDS_UP:
        return f"{three_digits(seconds * 1e6)}µs"
    return "<1µs"


def format_rate(per_second: float) -> str:
    """A throughput with three significant digits: ``812``, ``17.7k``, ``35.0M``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= scale * ROUNDS_UP:
            return f"{three_digits(per_second / scale)}{suffix}"
    return f"{per_second:.0f}"


class EpochTable:
    """Prints one row per epoch: plain aligned text (a log or a pipe) or a rich table row.

    The columns are fixed by the first row: validation columns only when a
    validation set is scored, ``monitor_rmse`` only when early stopping
    monitors a held-out part, ``phase`` only for solvers whose epochs differ in
    kind (a Gibbs sampler's burn-in sweeps are discarded, so their validation
    RMSE may rise without the run diverging). Durations are shown with three
    significant digits down to microseconds, throughput as ``35.0M`` ratings/s.
    """

    CELLS = {
        "epoch": lambda r: str(r.epoch),
        "phase": lambda r: r.phase or "",
        "train_loss": lambda r: _cell(r.train_loss),
        "valid_loss": lambda r: _cell(r.valid_loss),
        "valid_rmse": lambda r: _cell(r.valid_rmse),
        "monitor_rmse": lambda r: _cell(r.monitor_rmse),
        "time": lambda r: format_seconds(r.seconds),
        "ratings/s": lambda r: format_rate(r.ratings_per_second),
    }
    OPTIONAL = {
        "phase": lambda r: r.phase is not None,
        "valid_loss": lambda r: r.valid_loss is not None,
        "valid_rmse": lambda r: r.valid_rmse is not None,
        "monitor_rmse": lambda r: r.monitor_rmse is not None,
    }

    def __init__(
        self, stream: TextIO | None = None, enabled: bool = True, epochs: int | None = None
    ) -> None:
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.units = RATING_UNITS.get()
        self.columns: tuple[str, ...] | None = None
        self.notebook = (
            NotebookProgress(list(self.CELLS), epochs)
            if enabled and stream is None and in_notebook() else None
        )

    @property
    def interactive(self) -> bool:
        return self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def track(self, batches: Iterable[Any], total: int, epoch: int) -> Iterable[Any]:
        """Batches of an epoch, behind a progress bar in a terminal or a notebook."""
        if self.notebook is not None:
            return self._track_in_notebook(batches, total, epoch)
        if not self.interactive:
            return batches
        from rich.progress import track

        return track(batches, total=total, description=f"epoch {epoch}", transient=True)

    def columns_for(self, record: EpochRecord) -> tuple[str, ...]:
        """The columns a run shows, from its first record."""
        return tuple(name for name in self.CELLS
                     if name not in self.OPTIONAL or self.OPTIONAL[name](record))

    def _track_in_notebook(self, batches: Iterable[Any], total: int, epoch: int) -> Iterator[Any]:
        notebook = self.notebook
        for done, batch in enumerate(batches, start=1):
            yield batch
            if notebook is not None:
                notebook.progress(done, total, f"epoch {epoch}: batch {done}/{total}")

    def row(self, record: EpochRecord) -> None:
        """Print ``record`` (in rating units: see :data:`RATING_UNITS`)."""
        if not self.enabled:
            return
        record = record_in_units(record, self.units)
        if self.columns is None:
            self.columns = self.columns_for(record)
            if self.notebook is not None:
                self.notebook.columns = list(self.columns)
            else:
                print("  ".join(f"{c:>12}" for c in self.columns), file=self.stream)
        cells = [self.CELLS[name](record) for name in self.columns]
        if self.notebook is not None:
            self.notebook.row(record.epoch, cells)
            return
        print("  ".join(f"{c:>12}" for c in cells), file=self.stream, flush=True)
