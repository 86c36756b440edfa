"""The ``embrec`` command line.

Each command group lives in a module of its own that exposes ``register(app)``.
User mistakes (:class:`~embrec.errors.EmbrecError`) print one line on stderr and
exit with code 2; no traceback.
"""

from __future__ import annotations

import sys
import warnings

import typer

from embrec.errors import EmbrecError

app = typer.Typer(
    name="embrec",
    help="Collaborative filtering on explicit ratings: load, train, evaluate, recommend, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES: tuple[str, ...] = ("data", "train", "evaluate", "serve", "recommend")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"embrec.cli.{name}").register(app)


def show_warning(message: Warning | str, *_: object, **__: object) -> None:
    """A library warning (an inferred rating scale...) as one ``embrec: warning:`` line."""
    print(f"embrec: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 2 bad input)."""
    _register_commands()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except EmbrecError as error:
        print(f"embrec: error: {error}", file=sys.stderr)
        return 2
    except typer.Exit as done:
        return done.exit_code
    except KeyboardInterrupt:
        print("embrec: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # click usage errors carry their own exit code
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            return 2
        if isinstance(error, click.exceptions.Abort):
            return 130
        raise
    return 0


def run() -> None:
    sys.exit(main())
