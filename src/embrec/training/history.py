"""The per-epoch record of a training run and the table it prints.

The table is the one every notebook of the field prints: epoch, train loss,
validation loss, validation RMSE, seconds and throughput.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
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


def _cell(value: float | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


class EpochTable:
    """Shows one row per epoch: plain aligned text (a log or a pipe), a rich progress bar
    in a terminal, or an HTML progress bar over the table in a Jupyter notebook.

    ``epochs`` (the planned count) lets the notebook bar count epochs.
    """

    COLUMNS = (
        "epoch", "train_loss", "valid_loss", "valid_rmse", "monitor_rmse", "time", "ratings/s",
    )

    def __init__(
        self, stream: TextIO | None = None, enabled: bool = True, epochs: int | None = None
    ) -> None:
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self._header_done = False
        self.notebook = (
            NotebookProgress(self.COLUMNS, epochs) if enabled and stream is None and in_notebook()
            else None
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

    def _track_in_notebook(self, batches: Iterable[Any], total: int, epoch: int) -> Iterator[Any]:
        notebook = self.notebook
        for done, batch in enumerate(batches, start=1):
            yield batch
            if notebook is not None:
                notebook.progress(done, total, f"epoch {epoch}: batch {done}/{total}")

    def row(self, record: EpochRecord) -> None:
        if not self.enabled:
            return
        cells = [
            str(record.epoch),
            _cell(record.train_loss),
            _cell(record.valid_loss),
            _cell(record.valid_rmse),
            _cell(record.monitor_rmse),
            f"{record.seconds:.2f}s",
            f"{record.ratings_per_second:,.0f}",
        ]
        if self.notebook is not None:
            self.notebook.row(record.epoch, cells)
            return
        if not self._header_done:
            print("  ".join(f"{c:>12}" for c in self.COLUMNS), file=self.stream)
            self._header_done = True
        print("  ".join(f"{c:>12}" for c in cells), file=self.stream, flush=True)
