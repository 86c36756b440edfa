"""What a download says on stderr: where from, where to, and how far along it is.

Everything goes to stderr, so ``--json`` output on stdout stays machine-readable.
On a terminal the progress line is rewritten in place (``\\r``); elsewhere (a log,
CI) a line is printed at every tenth of the download, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

STEPS = 10
MB = 1_000_000


def say(message: str, stream: TextIO | None = None) -> None:
    """One line on stderr (or ``stream``), flushed at once."""
    out = stream if stream is not None else sys.stderr
    print(message, file=out, flush=True)


def megabytes(n_bytes: int) -> str:
    """``612 B``, ``4.2 kB``, ``4.9 MB`` (decimal units, as pip shows them: 1 MB = 10^6 bytes)."""
    if n_bytes < 1000:
        return f"{n_bytes} B"
    if n_bytes < MB:
        return f"{n_bytes / 1000:.1f} kB"
    return f"{n_bytes / MB:.1f} MB"


class DownloadProgress:
    """Reports a byte stream's progress: ``ml-100k.zip: 2.0 MB of 4.9 MB (40%)``.

    ``total`` is the expected size in bytes (None when unknown: then only the
    bytes received are shown, once per MB on a terminal and every 10 MB
    elsewhere). On a terminal the line changes at every percent, elsewhere at
    every tenth.
    """

    def __init__(
        self, label: str, total: int | None, stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total if total else None
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown_step = -1
        self.width = 0
        self.started = time.perf_counter()

    def line(self, received: int) -> str:
        if self.total is None:
            return f"{self.label}: {megabytes(received)}"
        percent = min(100, received * 100 // self.total)
        return f"{self.label}: {megabytes(received)} of {megabytes(self.total)} ({percent}%)"

    def step(self, received: int) -> int:
        if self.total is None:
            return received // (MB if self.live else 10 * MB)
        steps = 100 if self.live else STEPS
        return min(steps, received * steps // self.total)

    def update(self, received: int) -> None:
        """Show ``received`` bytes when a new step is reached."""
        step = self.step(received)
        if step == self.shown_step:
            return
        self.shown_step = step
        self.show(self.line(received), final=False)

    def finish(self, received: int) -> None:
        """The last line: the bytes received and the seconds taken."""
        seconds = time.perf_counter() - self.started
        self.show(f"{self.label}: {megabytes(received)} in {seconds:.1f} s", final=True)

    def close(self) -> None:
        """End an unfinished line on a terminal (a failed download), so errors start afresh."""
        if self.live and self.width:
            print(file=self.stream, flush=True)
            self.width = 0

    def show(self, text: str, *, final: bool) -> None:
        if not self.live:
            print(text, file=self.stream, flush=True)
            return
        padded = text.ljust(self.width)
        self.width = 0 if final else len(text)
        print(f"\r{padded}", end="\n" if final else "", file=self.stream, flush=True)


def announce(what: str, source: str, target: Path, stream: TextIO | None = None) -> None:
    """``downloading WHAT from SOURCE into TARGET`` on stderr."""
    say(f"downloading {what} from {source} into {target}", stream)
