"""Help and usage text that reads like any command line's.

typer 0.29 renders a flag as ``--json <bool>``, an option's value as
``<int range>`` or ``<list[str]>``, and a required argument as ``{model_dir}``
on the usage line. The command classes here keep typer's parsing and its rich
help panels, and only change those labels to the usual conventions (click's,
argparse's, GNU's):

* a flag takes no value and shows none: ``--json``;
* an option shows the kind of its value in capitals: ``--epochs INTEGER``,
  ``--out PATH``, ``--optimizer [adam|sgd]``; a repeatable option shows one value;
* an argument is its name in capitals, bare when required and in brackets when
  optional: ``embrec recommend [OPTIONS] MODEL_DIR``.

:func:`use_plain_help` gives every command and group of an app these classes,
so a command added later is covered without naming it.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

VALUE_NAMES: dict[type, str] = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}


def value_name(param: TyperOption | TyperArgument) -> str:
    """The capitalised name of the value a parameter takes: INTEGER, FLOAT, TEXT, PATH, [a|b]."""
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in descriptor.choices or ()) + "]"
    if descriptor.is_path:
        return {"file": "FILE", "dir": "DIRECTORY"}.get(descriptor.path_type, "PATH")
    annotation = descriptor.annotation
    if descriptor.is_list:
        (annotation,) = getattr(annotation, "__args__", (str,))
    return VALUE_NAMES.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


class PlainOption(TyperOption):
    """An option labelled ``--name TYPE``, a flag ``--name``."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag or self.count:
            return None
        return value_name(self)


class PlainArgument(TyperArgument):
    """An argument labelled ``NAME`` (``[NAME]`` when optional) with the kind of its value."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else (self.name or "").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return value_name(self)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name if self.nargs == 1 else f"{name}..."


def plain_params(params: list) -> list:
    """``params`` relabelled in place (the same objects, so parsing is unchanged).

    typer builds its parameter objects itself and offers no hook for their class;
    giving the objects it built a subclass that only overrides the labels keeps
    every value, callback and check typer set on them.
    """
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    return params


class PlainCommand(TyperCommand):
    """A typer command whose help and usage use :class:`PlainOption` and :class:`PlainArgument`."""

    def get_params(self, ctx: Any) -> list:
        return plain_params(super().get_params(ctx))


class PlainGroup(TyperGroup):
    """A typer group whose own help and usage are plain (its commands set theirs)."""

    def get_params(self, ctx: Any) -> list:
        return plain_params(super().get_params(ctx))


def use_plain_help(app: typer.Typer) -> None:
    """Give ``app``, its commands and its sub-apps (recursively) the plain command classes.

    Call it after the commands are registered; commands that name a class of their own
    (other than typer's defaults) keep it.
    """
    if _unset(app.info.cls, TyperGroup):
        app.info.cls = PlainGroup
    for command in app.registered_commands:
        if _unset(command.cls, TyperCommand):
            command.cls = PlainCommand
    for group in app.registered_groups:
        if _unset(group.cls, TyperGroup):
            group.cls = PlainGroup
        if group.typer_instance is not None:
            use_plain_help(group.typer_instance)


def _unset(cls: Any, typer_default: type) -> bool:
    """True when a command or group was registered without a class of its own."""
    if isinstance(cls, DefaultPlaceholder):
        cls = cls.value
    return cls is None or cls is typer_default
