"""The usage errors of the command-line parser, whichever click raises them.

typer 0.29 parses with its own copy of click (``typer._click``); earlier typer
releases, and any command written against click directly, raise plain click's
exceptions. Both families are caught here and shown the same way: the usage
line, a hint to ``--help`` and one ``Error:`` line, on stderr.
"""

from __future__ import annotations

import sys

import click
import typer
from typer._click import exceptions as typer_click

USAGE_ERRORS: tuple[type[Exception], ...] = (
    typer_click.ClickException,
    click.exceptions.ClickException,
)
"""Parser errors: an unknown command or option, a missing argument, a bad value."""

ABORTS: tuple[type[BaseException], ...] = (typer.Abort, click.exceptions.Abort)
"""A prompt closed (end of input) before it was answered."""

NO_ARGS_IS_HELP: tuple[type[Exception], ...] = (
    typer_click.NoArgsIsHelpError,
    click.exceptions.NoArgsIsHelpError,
)


def show_usage_error(error: Exception) -> int:
    """Print ``error`` the way click does (usage line, hint, one message line); its exit code.

    A group run without a command prints its help instead, as click does, and also
    exits 2 (typer's rich help has printed itself on stdout by then; plain help is
    the error's message).
    """
    if isinstance(error, NO_ARGS_IS_HELP):
        if error.format_message().strip():
            print(error.format_message(), file=sys.stderr)
        return 2
    error.show(file=sys.stderr)
    return int(getattr(error, "exit_code", 2))
