"""`--help` reads like any command line's: `--json`, `--epochs INTEGER`, `MODEL_DIR`."""

from __future__ import annotations

import copy
import re

import pytest
import typer

from embrec.cli import _register_commands, app, main

TYPER_LABELS = re.compile(r"<(bool|int|float|str|path|list)|\{[a-z_]+\}")


def _walk(command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


_register_commands()
ALL = list(_walk(typer.main.get_command(app)))
IDS = [" ".join(path) or "embrec" for path, _ in ALL]


def help_of(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("path", "command"), ALL, ids=IDS)
def test_help_shows_no_type_labels_of_typer(path, command, capsys):
    text = help_of(list(path), capsys)
    assert text.strip().startswith(f"Usage: embrec {' '.join(path)}".rstrip())
    assert not TYPER_LABELS.search(text), TYPER_LABELS.search(text)
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":
            assert param.name.upper() in text


def test_flags_show_no_value_and_options_show_their_kind(capsys):
    lines = help_of(["recommend"], capsys).splitlines()
    usage = next(line for line in lines if "Usage:" in line)
    assert usage.split() == ["Usage:", "embrec", "recommend", "[OPTIONS]", "MODEL_DIR"]

    def row(option: str) -> list[str]:
        cells = (line.strip("│ ").split() for line in lines)
        return next(c for c in cells if c and c[0] in (option, "*") and option in c[:2])

    assert row("--json")[:2] == ["--json", "End"]
    assert row("--include-seen")[:2] == ["--include-seen", "Also"]
    assert row("--user")[:3] == ["--user", "-u", "TEXT"]
    assert row("--n")[:4] == ["--n", "-n", "INTEGER", "[x>=1]"]
    assert row("MODEL_DIR")[:3] == ["*", "MODEL_DIR", "PATH"]


def test_an_optional_argument_is_bracketed_in_the_usage_line():
    from embrec.cli.help_format import plain_params

    _, command = next(item for item in ALL if item[0] == ("report",))
    argument = next(p for p in command.params if p.param_type_name == "argument")
    required, optional = plain_params([copy.copy(argument), copy.copy(argument)])
    optional.required = False
    assert required._usage_display_name() == "RESULTS"
    assert optional._usage_display_name() == "[RESULTS]"
