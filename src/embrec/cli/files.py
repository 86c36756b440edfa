"""``embrec evaluate`` and ``embrec predict``: a saved model on the user's own rating files.

* ``embrec evaluate BUNDLE FILE [--k 10] [--threshold 4] [--json]``: RMSE/MAE
  over every rating of FILE and ranking metrics@k over its users and items the
  model knows, with the counts of rows, unknown users and unknown items;
* ``embrec predict BUNDLE FILE -o OUT``: one prediction per rating of FILE (or
  per row of a table of (user, item) pairs without ratings), raw ids in and out
  (``user_id,item_id,[rating,]prediction,fallback,reason``), as CSV, TSV
  (``.tsv``) or Parquet (``.parquet``), written to a temporary file and renamed.

Every rating file the CLI reads for these commands and for ``embrec train
--train/--test`` goes through :func:`read_ratings_file`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from embrec.cli.options import JsonOpt
from embrec.cli.reader_options import (
    ItemColOpt,
    RatingColOpt,
    ScaleOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    reader_options,
)
from embrec.data.align import Alignment, align_ratings
from embrec.data.ratings import Ratings
from embrec.data.readers.pairs import Pairs, pair_layout, read_pairs
from embrec.errors import ConfigError, DataError

BundleArg = Annotated[Path, typer.Argument(help="A model bundle folder (from embrec train).")]
FileArg = Annotated[
    Path, typer.Argument(help="A ratings file: u1.test, ratings.csv, any CSV/TSV/Parquet table.")
]
KOpt = Annotated[int, typer.Option("--k", help="Length of the top-k lists ranked.", min=1)]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", help="A rating at least this high marks a relevant item.")
]


def read_ratings_file(path: Path, **reader_options: Any) -> Ratings:
    """The ratings of one file given on the command line (reader options pass through).

    Official MovieLens/Netflix files are recognised by name; any other table has
    its columns guessed from the header (see :func:`embrec.data.datasets.load_source`).
    """
    from embrec.data.datasets import load_source

    path = Path(path).expanduser()
    if not path.exists():
        raise DataError("no such file", path=path, hint="check the path")
    return load_source(path, **reader_options)


@dataclass
class TrainTestFiles:
    """Training ratings read from one file and, optionally, test ratings from another.

    ``alignment`` is the test file mapped into the training file's id space (by
    raw id) with its counts of users and items the training file lacks.
    """

    train_path: Path
    test_path: Path | None
    train: Ratings
    test: Ratings | None
    alignment: Alignment | None

    @property
    def name(self) -> str:
        """How results name this data: ``u1.base`` or ``u1.base / u1.test``."""
        if self.test_path is None:
            return f"{self.train_path.name} (all)"
        return f"{self.train_path.name} / {self.test_path.name}"

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "train_file": str(self.train_path),
            "test_file": None if self.test_path is None else str(self.test_path),
            "n_train": len(self.train),
            "n_test": 0 if self.test is None else len(self.test),
        }
        if self.alignment is not None:
            out.update(self.alignment.report("test_"))
        return out

    def describe(self) -> str:
        lines = [f"train: {self.train!r} from {self.train_path}"]
        if self.alignment is None:
            lines.append("no --test file: training on all of it, no test RMSE")
        else:
            lines.append(f"test: {self.test_path}: {self.alignment.describe()}")
        return "\n".join(lines)


def read_train_test(
    train_path: Path, test_path: Path | None, **reader_options: Any
) -> TrainTestFiles:
    """Read ``--train`` (and ``--test``, with the same reader options) and map the test
    ratings onto the training ids."""
    train = read_ratings_file(train_path, **reader_options)
    test = None if test_path is None else read_ratings_file(test_path, **reader_options)
    alignment = None if test is None else align_ratings(test, train)
    return TrainTestFiles(Path(train_path), test_path, train, test, alignment)


def read_pairs_file(path: Path) -> Pairs | None:
    """The (user, item) pairs of a file without a rating column; None when it has ratings."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError("no such file", path=path, hint="check the path")
    layout = pair_layout(path)
    return None if layout is None else read_pairs(path, layout)


def write_table_atomic(frame: pd.DataFrame, out: Path) -> None:
    """Write ``frame`` as Parquet (``.parquet``/``.pq``), TSV (``.tsv``) or CSV.

    The table goes to a temporary file beside ``out`` that is renamed over it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        if suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_bundle(bundle: Path):
    from embrec.bundle import load

    return load(bundle)


def evaluate_command(
    bundle: BundleArg,
    file: FileArg,
    k: KOpt = 10,
    threshold: ThresholdOpt = 4.0,
    json_out: JsonOpt = False,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    scale: ScaleOpt = None,
) -> None:
    """RMSE/MAE and ranking metrics of a saved model on any ratings file."""
    from embrec.evaluation.held_out import evaluate_file

    trained = _load_bundle(bundle)
    options = reader_options(user_col, item_col, rating_col, time_col, sep, scale)
    ratings = read_ratings_file(file, **options)
    result = evaluate_file(trained, ratings, k=k, threshold=threshold)
    rating = result.rating
    print(f"{trained.name} ({bundle}) on {file}: {result.alignment.describe()}")
    print(
        f"RMSE {rating['rmse']:.4f}, MAE {rating['mae']:.4f} over {rating['n_ratings']:,} "
        f"ratings (predictions clipped to {trained.scale.low:g}..{trained.scale.high:g})"
    )
    if result.ranking is None:
        print(f"ranking metrics skipped: {result.ranking_skipped}")
    else:
        r = result.ranking
        print(
            f"top-{r.k} ranking over {r.n_users_evaluated:,} users (relevant: rated "
            f">= {r.threshold:g}; candidates: items they did not rate in training): "
            f"precision {r.precision:.4f}, recall {r.recall:.4f}, NDCG {r.ndcg:.4f}, "
            f"MAP {r.map:.4f}, hit rate {r.hit_rate:.4f}, coverage {r.coverage:.4f}"
        )
    if json_out:
        payload = {"model": trained.name, "bundle": str(bundle), "file": str(file),
                   **result.to_dict()}
        print(json.dumps(payload))


def predict_command(
    bundle: BundleArg,
    file: Annotated[
        Path, typer.Argument(help="A ratings file, or a table of (user, item) pairs to predict.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output table: .csv, .tsv or .parquet.")
    ],
    json_out: JsonOpt = False,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    scale: ScaleOpt = None,
) -> None:
    """Predictions of a saved model for the (user, item) pairs of a file, raw ids in and out."""
    from embrec.evaluation.held_out import fallback_counts, predict_pairs, prediction_table

    trained = _load_bundle(bundle)
    if out.exists() and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as predictions.csv")
    options = reader_options(user_col, item_col, rating_col, time_col, sep, scale)
    pairs = None if options else read_pairs_file(file)
    if pairs is None:
        table = prediction_table(trained, read_ratings_file(file, **options))
    else:
        table = predict_pairs(trained, pairs.user_ids, pairs.item_ids)
    write_table_atomic(table, out)
    counts = fallback_counts(table)
    print(
        f"wrote {counts['n_predictions']:,} predictions of {trained.name} ({bundle}) for {file} "
        f"to {out}; {counts['n_fallback']:,} from the fallback ({counts['unknown_users']:,} "
        f"unknown users, {counts['unknown_items']:,} unknown items)"
    )
    if json_out:
        print(json.dumps({"out": str(out), **counts}))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    app.command("predict")(predict_command)
