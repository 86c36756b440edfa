"""The ``embrec`` command line.

Each command group lives in a module of its own that exposes ``register(app)``.
User mistakes (:class:`~embrec.errors.EmbrecError`) print one line on stderr and
exit with code 2; usage mistakes (an unknown command or option, a missing
argument, a value of the wrong kind) print the command's usage line and a
one-line message and exit with code 2, as any command line does. No traceback.
"""

from __future__ import annotations

import sys
import warnings

import typer

from embrec.cli.help_format import use_plain_help
from embrec.cli.usage_errors import ABORTS, USAGE_ERRORS, show_usage_error
from embrec.errors import EmbrecError

PROG_NAME = "embrec"

app = typer.Typer(
    name=PROG_NAME,
    help="Collaborative filtering on explicit ratings: load, train, evaluate, recommend, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES: tuple[str, ...] = (
    "data", "train", "models", "evaluate", "serve", "recommend", "files",
)


_registered = False


def _register_commands() -> None:
    """Add every command module's commands to ``app``, once per process (each call of
    :func:`main` would otherwise append another copy of every command)."""
    global _registered
    if _registered:
        return
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"embrec.cli.{name}").register(app)
    use_plain_help(app)
    _registered = True


def show_warning(message: Warning | str, *_: object, **__: object) -> None:
    """A library warning (an inferred rating scale...) as one ``embrec: warning:`` line."""
    print(f"embrec: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 2 bad input or usage, 130 interrupted)."""
    _register_commands()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        # embrec's renames ("--wd is now --weight-decay") reach the user, once each.
        warnings.filterwarnings("default", message=r".* is now ", category=DeprecationWarning)
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name=PROG_NAME, standalone_mode=False)
    except EmbrecError as error:
        print(f"embrec: error: {error}", file=sys.stderr)
        return 2
    except typer.Exit as done:
        return done.exit_code
    except KeyboardInterrupt:
        print("embrec: interrupted", file=sys.stderr)
        return 130
    except USAGE_ERRORS as error:
        return show_usage_error(error)
    except ABORTS:
        print("embrec: aborted", file=sys.stderr)
        return 1
    # Without standalone mode, typer returns an exit a command asked for (typer.Exit).
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def run() -> None:
    sys.exit(main())
