"""Errors a user can act on.

Every error embrec raises for a user's mistake derives from :class:`EmbrecError`
and renders as one line: what was wrong, where (file and line, field or id) and
what to do. The CLI prints that line and exits with code 2; it never shows a
traceback for them.
"""

from __future__ import annotations

from pathlib import Path


class EmbrecError(Exception):
    """Base class of the errors that are the user's to fix."""


class DataError(EmbrecError):
    """A rating file or data source that cannot be read as it is.

    ``DataError(problem, path=..., line=..., hint=...)`` renders as
    ``path:line: problem (hint)``.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        text = f"{where}{self.problem}"
        if self.hint:
            text += f" ({self.hint})"
        return text.replace("\n", " ")


class ConfigError(EmbrecError):
    """A hyperparameter, option or preset that is not valid."""


class ModelError(EmbrecError):
    """A model that cannot do what was asked (unknown id, diverged training...)."""


class BundleError(EmbrecError):
    """A saved model bundle that is missing, corrupt or from a newer format."""


class TrainingDiverged(ModelError):
    """The loss became NaN or infinite."""
