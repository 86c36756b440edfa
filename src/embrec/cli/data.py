"""``embrec data``: look at a rating source before modelling it.

* ``embrec data info SOURCE``: sizes, density, scale, rating histogram, activity;
* ``embrec data show SOURCE``: the most active users x most rated items;
* ``embrec data split SOURCE --split SPEC``: train/test sizes and cold users/items.

SOURCE is a dataset name (``ml-100k``, ``ml-latest-small``, ...) or a rating
file, read as the reader options say (``--user-col``, ``--sep``, ``--scale``...;
see :mod:`embrec.cli.reader_options`). ``--json`` ends the output with one JSON
object on the last line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from embrec.cli.reader_options import (
    ItemColOpt,
    RatingColOpt,
    ScaleOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    load_ratings,
    reader_options,
)

data_app = typer.Typer(
    name="data",
    help="Inspect rating data: sizes and distributions, the rating matrix, splits.",
    no_args_is_help=True,
)

SourceArg = Annotated[
    str, typer.Argument(help="Dataset name (ml-100k, ml-latest-small, ...) or a ratings file.")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder holding dataset folders (default: $EMBREC_DATA_DIR)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line.")]

_TITLE_WIDTH = 36
_COLUMN_WIDTH = 12


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the ``embrec`` app (once)."""
    if any(group.typer_instance is data_app for group in app.registered_groups):
        return
    app.add_typer(data_app, name="data")


def _print_json(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, sort_keys=False, default=str))


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@data_app.command("info")
def info(
    source: SourceArg,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    scale: ScaleOpt = None,
) -> None:
    """Counts, density, rating scale and distribution, activity per user and per item."""
    from embrec.data.stats import describe

    options = reader_options(user_col, item_col, rating_col, time_col, sep, scale)
    summary = describe(load_ratings(source, data_dir, options))
    if as_json:
        _print_json(summary)
        return
    console = Console()
    overview = Table(title=f"{summary['name']}", show_header=False)
    overview.add_column("what", style="bold")
    overview.add_column("value", justify="right")
    step = summary["scale_step"]
    rows = [
        ("ratings", f"{summary['n_ratings']:,}"),
        ("users", f"{summary['n_users']:,}"),
        ("items", f"{summary['n_items']:,}"),
        ("density", f"{summary['density']:.4%}"),
        ("observed ratings", f"{summary['rating_min']:g} .. {summary['rating_max']:g}"),
        ("scale", f"{summary['scale_low']:g} .. {summary['scale_high']:g}"
                  + (f" step {step:g}" if step else " (continuous)")),
        ("mean ± std", f"{summary['mean']:.3f} ± {summary['std']:.3f}"),
    ]
    if "first_day" in summary:
        rows.append(("time span", f"{summary['first_day']} .. {summary['last_day']}"))
    if "merged_duplicates" in summary:
        rows.append(("merged duplicates", f"{summary['merged_duplicates']:,}"))
    for row in rows:
        overview.add_row(*row)
    console.print(overview)

    activity = Table(title="ratings per user / per item")
    activity.add_column("")
    quantile_names = list(summary["user_activity"])
    for name in quantile_names:
        activity.add_column(name, justify="right")
    for label, key in (("per user", "user_activity"), ("per item", "item_popularity")):
        activity.add_row(label, *(_count(summary[key][q]) for q in quantile_names))
    console.print(activity)

    histogram = Table(title="rating histogram")
    histogram.add_column("rating", justify="right")
    histogram.add_column("count", justify="right")
    histogram.add_column("share", justify="right")
    histogram.add_column("")
    total = max(1, summary["n_ratings"])
    for value, count in summary["histogram"].items():
        share = count / total
        histogram.add_row(value, f"{count:,}", f"{share:.1%}", "#" * round(40 * share))
    console.print(histogram)


def _shorten(text: str, width: int = _TITLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@data_app.command("show")
def show(
    source: SourceArg,
    data_dir: DataDirOpt = None,
    users: Annotated[int, typer.Option("--users", min=1, help="Most active users (rows).")] = 15,
    items: Annotated[int, typer.Option("--items", min=1, help="Most rated items (columns).")] = 10,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    scale: ScaleOpt = None,
) -> None:
    """The ratings of the most active users for the most rated items; blank = not rated.

    Titles wrap over a few lines; items that do not fit the terminal's width are
    left out, and the caption says so.
    """
    from embrec.data.stats import crosstab

    options = reader_options(user_col, item_col, rating_col, time_col, sep, scale)
    ratings = load_ratings(source, data_dir, options)
    frame = crosstab(ratings, n_users=users, n_items=items)
    console = Console()
    user_width = max([4, *(len(str(u)) for u in frame.index)])
    fitting = max(1, (console.width - user_width - 4) // (_COLUMN_WIDTH + 3))
    shown = frame.iloc[:, :fitting]
    caption = "blank: not rated"
    if shown.shape[1] < frame.shape[1]:
        caption += (
            f"; {shown.shape[1]} of {frame.shape[1]} items fit this width "
            "(widen the terminal or set COLUMNS)"
        )
    table = Table(
        title=f"{ratings.name}: {len(frame.index)} most active users x "
        f"{frame.shape[1]} most rated items",
        caption=caption,
    )
    table.add_column("user", justify="right", style="bold", no_wrap=True)
    for title in shown.columns:
        table.add_column(_shorten(str(title)), justify="center", width=_COLUMN_WIDTH)
    for user, values in zip(shown.index, shown.to_numpy(), strict=True):
        table.add_row(str(user), *("" if math.isnan(v) else f"{v:g}" for v in values))
    console.print(table)


@data_app.command("split")
def split(
    source: SourceArg,
    spec: Annotated[
        str,
        typer.Option(
            "--split",
            help="random:F, u1..u5, ua, ub, kfold:K:I, temporal:F, temporal-user:F, leave:K.",
        ),
    ],
    data_dir: DataDirOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random splits.")] = 0,
    as_json: JsonOpt = False,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    scale: ScaleOpt = None,
) -> None:
    """Train/test sizes of a split and how many test users and items are cold."""
    from embrec.data.splits import make_split, parse_split_spec

    parsed = parse_split_spec(spec)
    options = reader_options(user_col, item_col, rating_col, time_col, sep, scale)
    ratings = load_ratings(source, data_dir, options)
    result = make_split(ratings, parsed, data_dir=data_dir, seed=seed)
    report = {"source": ratings.name, **result.report()}
    if as_json:
        _print_json(report)
        return
    table = Table(title=f"{ratings.name}: split {report['split']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("train ratings", f"{report['n_train']:,}")
    table.add_row("test ratings", f"{report['n_test']:,} ({report['test_fraction']:.1%})")
    table.add_row("train users / items", f"{report['train_users']:,} / {report['train_items']:,}")
    table.add_row("test users / items", f"{report['test_users']:,} / {report['test_items']:,}")
    table.add_row("cold test users", f"{report['cold_users']:,}")
    table.add_row("cold test items", f"{report['cold_items']:,}")
    table.add_row("test ratings with a cold user or item", f"{report['cold_test_ratings']:,}")
    if report["seed"] is not None:
        table.add_row("seed", str(report["seed"]))
    Console().print(table)
