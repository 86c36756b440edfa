"""Every usage mistake, on every command: the usage line, one message, exit 2, no traceback.

The commands are discovered from the typer app, so a command added later is
covered without being named here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from embrec.cli import _register_commands, app, main


def _walk(command, path: tuple[str, ...]):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


def _all_commands() -> list[tuple[tuple[str, ...], object]]:
    _register_commands()
    return list(_walk(typer.main.get_command(app), ()))


ALL = _all_commands()
LEAVES = [(path, cmd) for path, cmd in ALL if not hasattr(cmd, "commands")]
GROUPS = [(path, cmd) for path, cmd in ALL if hasattr(cmd, "commands")]
REQUIRING = [(path, cmd) for path, cmd in LEAVES if any(p.required for p in cmd.params)]


def _ids(items) -> list[str]:
    return [" ".join(path) or "embrec" for path, _ in items]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_usage_error(code: int, stderr: str, command: tuple[str, ...]) -> None:
    assert code == 2
    assert "Traceback" not in stderr
    usage = f"Usage: embrec {' '.join(command)}".rstrip()
    assert usage in stderr, stderr


def test_the_app_has_the_commands_the_readme_names():
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"train", "cv", "sweep", "recommend", "serve", "models", "data info",
            "data split"} <= names
    assert len(REQUIRING) >= 10


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=_ids(LEAVES))
def test_an_unknown_option_prints_usage_and_one_error_line(path, command, capsys):
    code, stdout, stderr = run_cli([*path, "--no-such-option"], capsys)
    assert_usage_error(code, stderr, path)
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: No such option: --no-such-option"]
    assert stdout == ""


@pytest.mark.parametrize(("path", "command"), REQUIRING, ids=_ids(REQUIRING))
def test_a_missing_required_parameter_names_it(path, command, capsys):
    code, _, stderr = run_cli(list(path), capsys)
    assert_usage_error(code, stderr, path)
    first_required = next(p for p in command.params if p.required)
    label = (first_required.opts[0] if first_required.param_type_name == "option"
             else first_required.name.upper())
    assert re.search(rf"^Error: Missing (argument|option) '{re.escape(label)}", stderr, re.M)


@pytest.mark.parametrize(("path", "command"), GROUPS, ids=_ids(GROUPS))
def test_a_group_run_bare_prints_its_help_and_exits_2(path, command, capsys):
    code, stdout, stderr = run_cli(list(path), capsys)
    assert_usage_error(code, stdout + stderr, path)
    for name in command.commands:
        assert name in stdout + stderr


@pytest.mark.parametrize(("path", "command"), GROUPS, ids=_ids(GROUPS))
def test_an_unknown_command_prints_usage_and_one_error_line(path, command, capsys):
    code, _, stderr = run_cli([*path, "frobnicate"], capsys)
    assert_usage_error(code, stderr, path)
    assert "Error: No such command 'frobnicate'." in stderr.splitlines()


def test_a_value_of_the_wrong_kind_names_the_option(capsys):
    code, _, stderr = run_cli(["train", "--dataset", "ml-100k", "--out", "x", "--epochs",
                               "three"], capsys)
    assert_usage_error(code, stderr, ("train",))
    assert "Error: Invalid value for '--epochs'" in stderr


def test_the_installed_entry_point_exits_2_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "embrec", "train", "--datset", "ml-100k"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Usage: embrec train [OPTIONS]")
    assert "Error: No such option: --datset (Possible options:" in done.stderr
    assert "--dataset" in done.stderr.splitlines()[-1]


def test_running_the_cli_twice_registers_each_command_once(capsys):
    from embrec.cli import app

    main(["models"])
    counts = (len(app.registered_commands), len(app.registered_groups))
    main(["models"])
    capsys.readouterr()
    assert (len(app.registered_commands), len(app.registered_groups)) == counts
    names = [c.name for c in app.registered_commands]
    assert len(names) == len(set(names))
