"""The reader options: how to read a ratings file whose columns are not guessed right.

Every command that accepts a ratings file declares the same six options, shown
in their own help panel::

    --user-col C --item-col C --rating-col C --time-col C   a header name or a 0-based position
    --sep S                                                  ',', ';', '|', '::', '\\t' or tab
    --scale LOW..HIGH[:STEP]                                 1..5, 0.5..5:0.5, 1..10

A command declares them as parameters (``user_col: UserColOpt = None``, ...),
turns them into the keyword arguments of the readers with
:func:`reader_options`, and loads with :func:`load_ratings`. Without them a file
is read as :func:`embrec.data.datasets.load_source` guesses (columns from the
header, separator from the suffix or the first line, scale inferred).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.data.ratings import Ratings, RatingScale
from embrec.errors import ConfigError

PANEL = "Reader options (a ratings file)"
"""The help panel the reader options are listed in."""

UserColOpt = Annotated[
    str | None,
    typer.Option("--user-col", metavar="COLUMN", rich_help_panel=PANEL,
                 help="Column of the user ids: a header name or a 0-based position "
                      "(default: guessed from the header)."),
]
ItemColOpt = Annotated[
    str | None,
    typer.Option("--item-col", metavar="COLUMN", rich_help_panel=PANEL,
                 help="Column of the item ids (name or position)."),
]
RatingColOpt = Annotated[
    str | None,
    typer.Option("--rating-col", metavar="COLUMN", rich_help_panel=PANEL,
                 help="Column of the ratings (name or position)."),
]
TimeColOpt = Annotated[
    str | None,
    typer.Option("--time-col", metavar="COLUMN", rich_help_panel=PANEL,
                 help="Column of the timestamps, optional (name or position)."),
]
SepOpt = Annotated[
    str | None,
    typer.Option("--sep", metavar="SEP", rich_help_panel=PANEL,
                 help="Field separator: ',', ';', '|', '::', '\\t' or tab "
                      "(default: from the suffix or the first line)."),
]
ScaleOpt = Annotated[
    str | None,
    typer.Option("--scale", metavar="LOW..HIGH[:STEP]", rich_help_panel=PANEL,
                 help="Valid ratings, e.g. 1..5 or 0.5..5:0.5; ratings outside are an error "
                      "(default: inferred from the ratings)."),
]

NAMED_SEPARATORS = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
                    "space": " "}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
SCALE_RE = re.compile(rf"\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*(?::\s*({_NUMBER})\s*)?")


def parse_column(text: str) -> str | int:
    """A column given on the command line: digits are a 0-based position, anything else a name."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def parse_separator(text: str) -> str:
    """``--sep``: the text itself, with ``\\t`` and the names tab, comma... spelled out."""
    if text == "":
        raise ConfigError("--sep '': give the separator, e.g. --sep ',' or --sep tab")
    return NAMED_SEPARATORS.get(text.lower(), text)


def parse_scale(text: str) -> RatingScale:
    """``--scale LOW..HIGH`` or ``LOW..HIGH:STEP`` as a :class:`RatingScale`."""
    match = SCALE_RE.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"--scale {text!r}: expected LOW..HIGH or LOW..HIGH:STEP, e.g. --scale 1..5 or "
            "--scale 0.5..5:0.5"
        )
    low, high, step = (None if v is None else float(v) for v in match.groups())
    if not low < high:
        raise ConfigError(f"--scale {text!r}: LOW must be below HIGH, e.g. --scale 1..5")
    if step is not None and not 0 < step <= high - low:
        raise ConfigError(
            f"--scale {text!r}: STEP must be above 0 and at most HIGH - LOW, e.g. 0.5..5:0.5"
        )
    return RatingScale(low, high, step)


def reader_options(
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    scale: str | None = None,
) -> dict[str, Any]:
    """The reader options given, as keyword arguments of :func:`~embrec.data.datasets.load_source`.

    Options left out are not in the dict, so the readers still guess them.
    """
    options: dict[str, Any] = {}
    for key, value in (("user_col", user_col), ("item_col", item_col),
                       ("rating_col", rating_col), ("timestamp_col", time_col)):
        if value is not None:
            options[key] = parse_column(value)
    if sep is not None:
        options["sep"] = parse_separator(sep)
    if scale is not None:
        options["scale"] = parse_scale(scale)
    return options


FLAG_OF_OPTION = {"user_col": "--user-col", "item_col": "--item-col",
                  "rating_col": "--rating-col", "timestamp_col": "--time-col", "sep": "--sep",
                  "scale": "--scale"}


def load_ratings(source: str, data_dir: Path | None, options: dict[str, Any]) -> Ratings:
    """Ratings from a dataset name or a path, read with the reader options given.

    The reader options describe one file; with a dataset name or a dataset folder
    they are a usage mistake, reported naming the flag.
    """
    from embrec.data.datasets import ALIASES, DATASETS, load_source

    path = Path(source).expanduser()
    key = source.strip().lower()
    what = ("a folder" if path.is_dir()
            else "a dataset name" if not path.exists() and ALIASES.get(key, key) in DATASETS
            else None)
    if options and what is not None:
        flags = ", ".join(FLAG_OF_OPTION[key] for key in options)
        raise ConfigError(
            f"{flags}: reader options describe a ratings file, and {source!r} is {what}; "
            "drop them or give the file itself"
        )
    return load_source(source, data_dir=data_dir, **options)
