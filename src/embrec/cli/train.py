"""``embrec train``, ``embrec lr-find`` and ``embrec models``."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.cli.files import read_train_test
from embrec.cli.options import (
    DataDirOpt,
    DatasetOpt,
    HyperparameterFlags,
    JsonOpt,
    ModelOpt,
    ReaderFlags,
    SolverOpt,
    StoppingFlags,
    with_flags,
)
from embrec.cli.reader_options import load_ratings
from embrec.device import resolve_device
from embrec.errors import ConfigError

SplitOpt = Annotated[
    str, typer.Option("--split", help="random:0.2, u1..u5, ua, ub, kfold:5:1, temporal:0.1, ...")
]
DEFAULT_SPLIT = "random:0.2"
TrainDatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", "-d", help="Dataset name (ml-100k, ...) or a ratings file, "
                                         "split by --split."),
]
TrainSplitOpt = Annotated[
    str | None,
    typer.Option("--split", help=f"How to split --dataset: {DEFAULT_SPLIT} (default), u1..u5, "
                                 "ua, ub, kfold:5:1, temporal:0.1, ..."),
]
TrainFileOpt = Annotated[
    Path | None,
    typer.Option("--train", help="Train on all of this ratings file (instead of --dataset)."),
]
TestFileOpt = Annotated[
    Path | None,
    typer.Option("--test", help="With --train: report test RMSE on this ratings file "
                                "(matched to the training ids by raw id)."),
]

WithStoreOpt = Annotated[
    Path | None,
    typer.Option("--with-store", help="Also train on the ratings a server stored in this "
                                      "SQLite file (`embrec serve --db`)."),
]


@dataclass(frozen=True)
class TrainingData:
    """What ``embrec train`` trains and tests on: a dataset's split, or files."""

    dataset: TrainDatasetOpt = None
    train_file: TrainFileOpt = None
    test_file: TestFileOpt = None
    data_dir: DataDirOpt = None
    split: TrainSplitOpt = None
    with_store: WithStoreOpt = None

    def check(self) -> None:
        check_data_options(self.dataset, self.split, self.train_file, self.test_file,
                           self.with_store)


TuneOpt = Annotated[
    str | None,
    typer.Option("--tune", metavar="[BUDGET]",
                 help="First search the model's hyperparameters (Optuna TPE) on a 10% carve-out "
                      "of the training part, then train on all of it with the chosen values. "
                      "BUDGET: trials (30) or time (60s, 5m); bare --tune: 40 trials or 120 s."),
]

DEFAULT_MODEL = "mf-bias"
PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", help="A named, measured configuration: fast, best, bayes or "
                                  "neural (sets model, solver and hyperparameters; flags "
                                  "override)."),
]


def resolve_preset_option(preset: str, model: str, solver: str | None):
    """The preset and its model and solver; a --model or --solver given must match it.

    ``--model`` left at its default (``mf-bias``) counts as not given.
    """
    from embrec.presets import apply_preset

    explicit_model = None if model == DEFAULT_MODEL else model
    chosen, _ = apply_preset(preset, {}, model=explicit_model, solver=solver)
    print(chosen.describe())
    return chosen, chosen.model, chosen.solver


def checkpoint_dir_for(out: Path) -> Path:
    """Where a run writing the bundle ``out`` keeps its per-epoch checkpoint."""
    return out.parent / f".{out.name}.checkpoint"


def load_split(dataset: str, data_dir: Path | None, split: str, seed: int,
               options: dict[str, Any] | None = None):
    """The ratings of ``dataset`` (read with the reader ``options``) and their ``split``."""
    from embrec.data.splits import make_split

    ratings = load_ratings(dataset, data_dir, options or {})
    return ratings, make_split(ratings, split, data_dir=data_dir, seed=seed)


def print_split(ratings: Any, name: str, report: dict[str, Any]) -> None:
    print(
        f"{ratings!r}\nsplit {name}: train {report['n_train']:,}, "
        f"test {report['n_test']:,} (cold test users {report['cold_users']}, "
        f"cold test items {report['cold_items']})"
    )
    if report["cold_users"] or report["cold_items"]:
        print(
            f"warning: {report['cold_test_ratings']:,} of {report['n_test']:,} test ratings "
            "belong to users or items never seen in training; they are predicted by the "
            "baseline and measure cold start, not the model"
        )


def describe_ranker(described: dict[str, Any]) -> str:
    """One line on the ranking model a run stored beside the rating model."""
    if "lambda" in described:
        chosen = (f"lambda {described['lambda']:g} (carve-out NDCG@10 per lambda: "
                  f"{described.get('selection')})")
    else:
        chosen = ", ".join(f"{k} {v}" for k, v in described.items() if k not in ("name",))
    return (f"ranking model {described['name']}: {chosen}; top-N lists are ordered by its "
            "pick score x the predicted rating")


def check_data_options(
    dataset: str | None, split: str | None, train_file: Path | None, test_file: Path | None,
    with_store: Path | None,
) -> None:
    """``--dataset`` [+ ``--split``] or ``--train`` [+ ``--test``], never a mix of the two."""
    if train_file is None:
        if test_file is not None:
            raise ConfigError("--test needs --train FILE; with --dataset the test part comes "
                              "from --split")
        if dataset is None:
            raise ConfigError("say what to train on: --dataset NAME_OR_FILE [--split SPEC], "
                              "or --train FILE [--test FILE]")
        return
    if dataset is not None:
        raise ConfigError("--train replaces --dataset: give --train FILE [--test FILE] or "
                          "--dataset NAME [--split SPEC], not both")
    if split is not None:
        raise ConfigError("--split splits --dataset; with --train give the test ratings as "
                          "--test FILE")
    if with_store is not None:
        raise ConfigError("--with-store works with --dataset only; drop it or use --dataset")


@with_flags(data=TrainingData, hyper=HyperparameterFlags, stopping=StoppingFlags,
            reader=ReaderFlags)
def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to save the model bundle.")],
    model: ModelOpt = "mf-bias",
    preset: PresetOpt = None,
    solver: SolverOpt = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help=(
            "Torch intra-op threads. Default: 1 below a million training ratings, else the "
            "free cores (usable cores less the load average); a busy core stalls every "
            "thread, so more threads than free cores is many times slower."
        )),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last epoch checkpoint.")
    ] = False,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Train data-parallel under torchrun (DDP).")
    ] = False,
    ranker: Annotated[
        str, typer.Option("--ranker", help="Ranking model stored beside the rating model to "
                                           "order top-N lists: ease, mult-dae or none.")
    ] = "ease",
    tune: TuneOpt = None,
    json_out: JsonOpt = False,
    *,
    data: TrainingData,
    hyper: HyperparameterFlags,
    stopping: StoppingFlags,
    reader: ReaderFlags,
) -> None:
    """Train a model on a dataset's split or on your own --train/--test files; save the bundle."""
    from embrec.training.fit import fit

    started = time.perf_counter()
    data.check()
    if tune is not None:
        from embrec.tuning.budget import parse_budget

        parse_budget(tune)
    chosen = None
    if preset is not None:
        chosen, model, solver = resolve_preset_option(preset, model, solver)
    if ranker != "none":
        from embrec.models.rankers import get_ranker

        get_ranker(ranker)
    hyperparameters = {**hyper.for_model(model), **stopping.values()}
    resolve_device(hyperparameters.get("device", "auto"))  # before any data is read
    context = None
    if distributed:
        from embrec.training.distributed import init_distributed

        context = init_distributed(hyperparameters.get("device", "auto"),
                                   hyperparameters.get("optimizer"))
    if threads is not None:
        hyperparameters["threads"] = threads
    main_rank = context is None or context.is_main
    options = reader.options()
    if data.train_file is not None:
        train_file, test_file = data.train_file, data.test_file
        files = (read_train_test(train_file, test_file, **options) if context is None
                 else context.main_first(lambda: read_train_test(train_file, test_file, **options)))
        if main_rank:
            print(files.describe())
        source, split_name, report = str(train_file), files.name, files.report()
        train_part, test_part = files.train, files.test
    else:
        split = data.split or DEFAULT_SPLIT
        if context is None:
            ratings, parts = load_split(data.dataset, data.data_dir, split, hyper.seed, options)
        else:
            ratings, parts = context.main_first(
                lambda: load_split(data.dataset, data.data_dir, split, hyper.seed, options)
            )
        source, split_name, report = str(data.dataset), parts.name, parts.report()
        train_part, test_part = parts.train, parts.test
        if main_rank:
            print_split(ratings, parts.name, report)
    checkpoint = checkpoint_dir_for(out)
    if not resume and checkpoint.exists() and main_rank:
        shutil.rmtree(checkpoint)
    provenance = {"dataset": source, "split": split_name, "split_report": report}
    if chosen is not None:
        hyperparameters = chosen.resolve(hyperparameters)
        provenance["preset"] = chosen.to_json()
    if context is not None:
        provenance["processes"] = context.world
    if data.with_store is not None:
        from embrec.serving.retrain import with_store as fold_store

        merged = fold_store(parts.train, parts.test, data.with_store)
        train_part, test_part = merged.train, merged.test
        provenance["rating_store"] = merged.report
        if main_rank:
            print(merged.describe())
    trained = fit(
        train_part, model, test=test_part, solver=solver, verbose=True,
        checkpoint_dir=checkpoint, resume=resume, provenance=provenance,
        distributed=context, ranker=None if ranker == "none" else ranker, tune=tune,
        **hyperparameters,
    )
    if not main_rank:
        context.finish()
        return
    trained.save(out)
    if trained.history.stopped == "interrupted":
        print(f"interrupted after epoch {len(trained.history.epochs)}; the checkpoint is kept: "
              "rerun with --resume to continue")
    else:
        shutil.rmtree(checkpoint, ignore_errors=True)
    command_seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "model": trained.name,
        "solver": trained.solver,
        "dataset": source,
        "split": split_name,
        "seed": trained.train_config.get("seed", hyper.seed),
        "test_rmse": trained.metrics.get("test_rmse"),
        "test_mae": trained.metrics.get("test_mae"),
        "epochs": len(trained.history.epochs),
        "stopped": trained.history.stopped,
        "train_seconds": round(trained.history.train_seconds, 4),
        "ratings_per_second": round(trained.history.ratings_per_second, 1),
        "ratings_per_second_measures": "the training epochs alone (median over epochs): "
                                       "not reading, splitting, scoring or saving",
        "command_seconds": round(command_seconds, 4),
        "command_ratings_per_second": round(
            len(trained.train) * len(trained.history.epochs) / max(command_seconds, 1e-9), 1),
        "device": trained.train_config.get("device"),
        "precision": trained.train_config.get("precision"),
        "model_dir": str(out),
        "fingerprint": trained.provenance.get("fingerprint"),
        "ranker": None if trained.ranker is None else trained.ranker.describe(),
        "tuning": trained.provenance.get("tuning"),
    }
    if test_part is None:
        print(f"{trained.name} trained on {split_name}: no test ratings; saved to {out}")
    else:
        print(
            f"{trained.name} on {split_name}: test RMSE {summary['test_rmse']:.4f}, "
            f"MAE {summary['test_mae']:.4f} (predictions clipped to "
            f"{trained.scale.low:g}..{trained.scale.high:g}); saved to {out}"
        )
    if "test_fallback_ratings" in trained.metrics:
        summary.update({k: v for k, v in trained.metrics.items() if k.startswith("test_")})
    if trained.ranker is not None:
        print(describe_ranker(trained.ranker.describe()))
    if json_out:
        # valid_rmse and valid_mae: the old names of test_rmse and test_mae, for one release.
        summary.update(valid_rmse=summary["test_rmse"], valid_mae=summary["test_mae"])
        print(json.dumps(summary))
    if context is not None:
        context.finish()


@with_flags(hyper=HyperparameterFlags, reader=ReaderFlags, omit=("lr",))
def lr_find_command(
    dataset: DatasetOpt,
    model: ModelOpt = "mf-bias",
    solver: SolverOpt = None,
    data_dir: DataDirOpt = None,
    split: SplitOpt = DEFAULT_SPLIT,
    steps: Annotated[int, typer.Option("--steps", help="Batches of the range test.")] = 100,
    carve_out: Annotated[
        float, typer.Option("--carve-out", help="Share of the training part each candidate "
                                                "rate is checked on.")
    ] = 0.1,
    plot: Annotated[Path, typer.Option("--plot", help="Where to save the plot (PNG).")] = Path(
        "lr_find.png"
    ),
    json_out: JsonOpt = False,
    *,
    hyper: HyperparameterFlags,
    reader: ReaderFlags,
) -> None:
    """Suggest a learning rate for a model and solver, checked on a carve-out of the training part.

    torch: a range test proposes a rate; sgd: a grid around the default. Each
    candidate and the default are fitted on the training part minus the
    carve-out and scored on it; the best is suggested (the default if none beats it).
    """
    from embrec.training.lr_advice import advise_lr

    resolve_device(hyper.for_model(model).get("device", "auto"))
    _, parts = load_split(dataset, data_dir, split, hyper.seed, reader.options())
    advice = advise_lr(parts.train, model, solver=solver, fraction=carve_out, steps=steps,
                       **hyper.for_model(model))
    title = f"{model} ({advice.solver}) on {dataset} ({parts.name} train)"
    print(f"{model}, solver {advice.solver}: {advice.optimiser}")
    if advice.range_test is not None:
        advice.range_test.plot(plot, title=f"Learning-rate range test: {title}")
        print(f"range test: steepest loss descent at {advice.range_test.suggestion:.2e} "
              f"(minimum loss at {advice.range_test.min_loss_lr:.2e}); plot saved to {plot}")
    else:
        advice.plot_trials(plot, title=f"Learning rates checked: {title}")
    for note in advice.notes:
        print(f"note: {note}")
    print(f"each rate fitted on {1 - carve_out:.0%} of the training part and scored on the "
          f"other {carve_out:.0%} (seed {advice.seed}):")
    for trial in advice.trials:
        rmse = "diverged" if trial.rmse == float("inf") else f"RMSE {trial.rmse:.4f}"
        print(f"  lr {trial.lr:.2e} ({trial.origin}): {rmse}")
    print(f"suggested learning rate: {advice.suggestion:.2e} -- {advice.verdict()}")
    if advice.range_test is None:
        print(f"plot saved to {plot}")
    if json_out:
        print(json.dumps({**advice.to_json(), "plot": str(plot)}))


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("lr-find")(lr_find_command)
