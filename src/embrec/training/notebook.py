"""Training progress in a Jupyter notebook: a progress bar over the epoch table, redrawn in place.

A notebook's output is not a terminal, so the terminal progress bar (rich's,
which in Jupyter needs ipywidgets) is not an option there. As fastai's
``fastprogress`` does, the progress is HTML (a ``<progress>`` element and the
epoch table) written once with ``IPython.display.display(..., display_id=True)``
and replaced through that handle: after each epoch and, within an epoch, at
most every :data:`REDRAW_SECONDS`. Nothing beyond IPython, which every Jupyter
kernel has, is needed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from html import escape
from typing import Any

REDRAW_SECONDS = 0.25


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (notebook, JupyterLab, VS Code, Colab, nbclient)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class NotebookProgress:
    """The progress bar and epoch table of one training run, as one updating HTML output."""

    def __init__(self, columns: Sequence[str], epochs: int | None = None) -> None:
        self.columns = list(columns)
        self.epochs = epochs
        self.rows: list[list[str]] = []
        self.done, self.total, self.label = 0, epochs or 0, ""
        self._handle: Any = None
        self._drawn_at = 0.0

    def progress(self, done: int, total: int, label: str) -> None:
        """Move the bar (redrawn at most every REDRAW_SECONDS, and always at the end)."""
        self.done, self.total, self.label = done, total, label
        now = time.monotonic()
        if done >= total or now - self._drawn_at >= REDRAW_SECONDS:
            self.draw()

    def row(self, epoch: int, cells: Sequence[str]) -> None:
        """Add an epoch's row; the bar then counts epochs."""
        self.rows.append(list(cells))
        total = self.epochs or epoch
        self.done, self.total = epoch, total
        self.label = f"epoch {epoch}/{total}"
        self.draw()

    def html(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        bar = (f'<progress value="{self.done}" max="{max(self.total, 1)}" '
               f'style="width:300px"></progress> {escape(self.label)}')
        return f"<div>{bar}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"

    def draw(self) -> None:
        from IPython.display import HTML, display

        self._drawn_at = time.monotonic()
        if self._handle is None:
            self._handle = display(HTML(self.html()), display_id=True)
        else:
            self._handle.update(HTML(self.html()))
