"""``embrec recommend``, ``similar``, ``interpret`` and ``onboard``: using a trained bundle.

* ``embrec recommend MODEL_DIR --user ID``: top-N for a known user;
* ``embrec recommend MODEL_DIR --rate "Star Wars (1977)=5" --rate "Titanic (1997)=2"``:
  top-N for a new user, folded into the model (the item is a title or an id; it
  may contain '=', the rating follows the last one);
* ``embrec similar MODEL_DIR ITEM``: the items most like ITEM (an id or a title);
* ``embrec interpret MODEL_DIR [--plot FILE]``: item biases and the axes of the
  item embeddings' PCA, with the PCA scatter plot as a PNG;
* ``embrec onboard MODEL_DIR``: asks a few ratings in the terminal, then recommends.

``--json`` ends the output with one JSON object on the last line; its ``items``
are ``{item_id, title, score}`` records. ``--device`` (all four) is where the
network scores (:meth:`embrec.TrainedModel.to`): the users' predicted ratings,
fold-in passes and hidden codes; the default is the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embrec.cli.options import JsonOpt, ScoreDeviceOpt
from embrec.errors import ConfigError

ModelDirArg = Annotated[Path, typer.Argument(help="A model bundle folder (from embrec train).")]
CountOpt = Annotated[int, typer.Option("-n", "--n", help="How many items to list.", min=1)]


def _load(model_dir: Path, device: str = "cpu"):
    from embrec.bundle import load

    return load(model_dir, device)


def parse_rating(text: str) -> tuple[str, float]:
    """``"TITLE=RATING"`` split on the last '=' (titles may contain '=')."""
    item, sep, value = text.rpartition("=")
    if not sep or not item.strip() or not value.strip():
        raise ConfigError(
            f"--rate {text!r}: expected ITEM=RATING, e.g. --rate \"Star Wars (1977)=5\""
        )
    try:
        return item.strip(), float(value)
    except ValueError:
        raise ConfigError(
            f"--rate {text!r}: the rating {value.strip()!r} is not a number"
        ) from None


def print_recommendations(recommendations: Any, heading: str, console: Console) -> None:
    console.print(heading, highlight=False, markup=False)
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("item", justify="right")
    table.add_column("title")
    table.add_column("predicted", justify="right")
    explained = recommendations.because is not None and any(recommendations.because)
    if explained:
        table.add_column("because you rated highly")
    for rank, record in enumerate(recommendations.to_records(), start=1):
        row = [str(rank), escape(str(record["item_id"])), escape(record["title"]),
               f"{record['score']:.2f}"]
        if explained:
            row.append(escape("; ".join(record.get("because", []))))
        table.add_row(*row)
    console.print(table)


def recommend_command(
    model_dir: ModelDirArg,
    user: Annotated[str | None, typer.Option("--user", "-u", help="A known user's id.")] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option("--rate", "-r", help="A new user's rating ITEM=RATING (repeatable)."),
    ] = None,
    n: CountOpt = 10,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="Also list items the user already rated.")
    ] = False,
    min_ratings: Annotated[
        int, typer.Option("--min-ratings", help="Only items with at least N training ratings.",
                          min=0)
    ] = 0,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only these items or genres (ITEM or genre:NAME; "
                                       "repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Never these items or genres (ITEM or genre:NAME; "
                                       "repeatable)."),
    ] = None,
    device: ScoreDeviceOpt = "cpu",
    json_out: JsonOpt = False,
) -> None:
    """Top-N items for a known user (--user) or a new one given by ratings (--rate)."""
    from embrec.recommend import recommend, recommend_for_ratings
    from embrec.recommend.filters import ItemFilter

    if (user is None) == (not rate):
        raise ConfigError(
            "give either --user ID for a known user or --rate ITEM=RATING (repeatable) "
            "for a new one"
        )
    model = _load(model_dir, device)
    item_filter = ItemFilter.of(min_ratings, include, exclude)
    if user is not None:
        result = recommend(model, user, n=n, exclude_seen=not include_seen,
                           item_filter=item_filter)
        heading = (f"Top {len(result)} for user {result.user_id} ({result.strategy}, "
                   f"{model.name}; ordered by {result.scorer})")
    else:
        ratings = [parse_rating(text) for text in rate or []]
        result = recommend_for_ratings(model, ratings, n=n, exclude_seen=not include_seen,
                                       item_filter=item_filter)
        heading = (f"Top {len(result)} for a new user, {len(ratings)} ratings "
                   f"({result.strategy}; ordered by {result.scorer})")
    print_recommendations(result, heading, Console())
    if json_out:
        print(json.dumps(result.to_json()))


def similar_command(
    model_dir: ModelDirArg,
    item: Annotated[str, typer.Argument(help="An item id or title.")],
    n: CountOpt = 10,
    min_ratings: Annotated[
        int, typer.Option("--min-ratings", help="Leave out items with fewer training ratings.")
    ] = 5,
    space: Annotated[
        str, typer.Option("--space", help="auto (the ranking model's item-item weights when the "
                                          "bundle has one), ranking, or rating (cosine of the "
                                          "rating model's item vectors).")
    ] = "auto",
    device: ScoreDeviceOpt = "cpu",
    json_out: JsonOpt = False,
) -> None:
    """The items closest to ITEM: the ranking model's item-item weights, else cosine."""
    from embrec.recommend import similar_items

    result = similar_items(_load(model_dir, device), item, n=n, min_ratings=min_ratings,
                           space=space)
    table = Table(title=escape(f"Items like {result.title} [id {result.item_id}] ({result.space})"))
    table.add_column("#", justify="right")
    table.add_column("item", justify="right")
    table.add_column("title")
    table.add_column("similarity", justify="right")
    for rank, (item_id, title, score) in enumerate(
        zip(result.item_ids, result.titles, result.similarities), start=1
    ):
        table.add_row(str(rank), escape(str(item_id)), escape(title), f"{score:.3f}")
    Console().print(table)
    if json_out:
        print(json.dumps(result.to_json()))


def interpret_command(
    model_dir: ModelDirArg,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Save the PCA scatter plot of items (PNG).")
    ] = None,
    n: CountOpt = 10,
    labels: Annotated[int, typer.Option("--labels", help="Label this many most rated items.")] = 50,
    min_ratings: Annotated[
        int, typer.Option("--min-ratings", help="List biases of items with this many ratings.")
    ] = 20,
    device: ScoreDeviceOpt = "cpu",
    json_out: JsonOpt = False,
) -> None:
    """Item biases (lowest and highest) and the principal axes of the item embeddings."""
    from embrec.recommend.interpret import item_biases, item_pca

    model = _load(model_dir, device)
    console = Console()
    biases = item_biases(model, n, min_ratings=min_ratings)
    for name, rows in (("Lowest", biases.lowest), ("Highest", biases.highest)):
        table = Table(title=escape(f"{name} item biases ({biases.source})"))
        for column in ("item", "title", "bias", "ratings"):
            table.add_column(column, justify="left" if column == "title" else "right")
        for row in rows:
            table.add_row(escape(str(row["item_id"])), escape(row["title"]), f"{row['bias']:+.3f}",
                          str(row["n_ratings"]))
        console.print(table)
    pca = item_pca(model, n_labels=labels, path=plot)
    for axis, ends in enumerate(pca.axes, start=1):
        share = 100 * pca.explained[axis - 1]
        console.print(f"[bold]PC{axis}[/bold] ({share:.1f}% of variance)")
        console.print(f"  low end:  {'; '.join(ends['low'])}", markup=False, highlight=False)
        console.print(f"  high end: {'; '.join(ends['high'])}", markup=False, highlight=False)
    if plot is not None:
        console.print(f"PCA plot saved to {plot}")
    if json_out:
        print(json.dumps({"biases": biases.to_json(), "pca": pca.to_json()}))


def ask_rating(title: str, position: str, low: float, high: float) -> float | None | str:
    """One question: a rating, None for "haven't seen", or "stop"."""
    while True:
        try:
            answer = input(f"{position} {title}: ").strip().casefold()
        except EOFError:
            return "stop"
        if answer in ("", "s", "skip"):
            return None
        if answer in ("q", "quit", "done"):
            return "stop"
        try:
            value = float(answer)
        except ValueError:
            value = float("nan")
        if low <= value <= high:
            return value
        print(f"  type a rating from {low:g} to {high:g}, Enter or s if you haven't seen it, "
              "q to finish")


def onboard_command(
    model_dir: ModelDirArg,
    k: Annotated[int, typer.Option("-k", "--questions", help="How many items to ask about.",
                                   min=1)] = 10,
    n: CountOpt = 10,
    device: ScoreDeviceOpt = "cpu",
    json_out: JsonOpt = False,
) -> None:
    """Ask a new user to rate a few telling items, then recommend for them."""
    from embrec.recommend import recommend_for_ratings
    from embrec.recommend.onboarding import onboarding_items

    model = _load(model_dir, device)
    low, high = model.scale.low, model.scale.high
    questions = onboarding_items(model, k)
    print(f"Rate these {len(questions)} items from {low:g} to {high:g}. "
          "Press Enter or type s if you haven't seen one, q to finish early.", flush=True)
    ratings: dict[Any, float] = {}
    for position, (item_id, title) in enumerate(zip(questions.item_ids, questions.titles), 1):
        answer = ask_rating(title, f"[{position}/{len(questions)}]", low, high)
        if answer == "stop":
            break
        if answer is not None:
            ratings[item_id] = float(answer)
    result = recommend_for_ratings(model, ratings, n=n)
    heading = (f"Top {len(result)} from your {len(ratings)} ratings ({result.strategy}; "
               f"ordered by {result.scorer})")
    print_recommendations(result, heading, Console())
    if json_out:
        print(json.dumps(result.to_json()))


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_command)
    app.command("similar")(similar_command)
    app.command("interpret")(interpret_command)
    app.command("onboard")(onboard_command)
