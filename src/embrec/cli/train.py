"""``embrec train``, ``embrec lr-find`` and ``embrec models``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from embrec.cli.options import (
    BatchOpt,
    DataDirOpt,
    DatasetOpt,
    DropoutOpt,
    EmbL2Opt,
    EpochsOpt,
    FactorsOpt,
    JsonOpt,
    LayersOpt,
    LrOpt,
    ModelOpt,
    OptimizerOpt,
    ParamOpt,
    ScheduleOpt,
    SeedOpt,
    SolverOpt,
    WdOpt,
    collect_hyperparameters,
)

SplitOpt = Annotated[
    str, typer.Option("--split", help="random:0.2, u1..u5, ua, ub, kfold:5:1, temporal:0.1, ...")
]


DEFAULT_MODEL = "mf-bias"
PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", help="A named, measured configuration: fast or best "
                                  "(sets model, solver and hyperparameters; flags override)."),
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


def load_split(dataset: str, data_dir: Path | None, split: str, seed: int):
    from embrec.data.datasets import load_source
    from embrec.data.splits import make_split

    ratings = load_source(dataset, data_dir=data_dir)
    return ratings, make_split(ratings, split, data_dir=data_dir, seed=seed)


def train_command(
    dataset: DatasetOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to save the model bundle.")],
    model: ModelOpt = "mf-bias",
    preset: PresetOpt = None,
    data_dir: DataDirOpt = None,
    split: SplitOpt = "random:0.2",
    solver: SolverOpt = None,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    wd: WdOpt = None,
    emb_l2: EmbL2Opt = None,
    factors: FactorsOpt = None,
    layers: LayersOpt = None,
    dropout: DropoutOpt = None,
    batch_size: BatchOpt = None,
    schedule: ScheduleOpt = None,
    optimizer: OptimizerOpt = None,
    seed: SeedOpt = 0,
    valid_fraction: Annotated[
        float | None,
        typer.Option("--valid-fraction", help="Share of train held out for early stopping."),
    ] = None,
    patience: Annotated[
        int | None, typer.Option("--patience", help="Early-stopping patience in epochs.")
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Torch threads.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last epoch checkpoint.")
    ] = False,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Train data-parallel under torchrun (DDP).")
    ] = False,
    with_store: Annotated[
        Path | None,
        typer.Option("--with-store", help="Also train on the ratings a server stored in this "
                                          "SQLite file (`embrec serve --db`)."),
    ] = None,
    param: ParamOpt = None,
    ranker: Annotated[
        str, typer.Option("--ranker", help="Ranking model stored beside the rating model to "
                                           "order top-N lists: ease, mult-dae or none.")
    ] = "ease",
    json_out: JsonOpt = False,
) -> None:
    """Train a model on a split of a dataset, print the epoch table, save the bundle."""
    from embrec.training.fit import fit

    context = None
    if distributed:
        from embrec.training.distributed import init_distributed

        context = init_distributed()

    chosen = None
    if preset is not None:
        chosen, model, solver = resolve_preset_option(preset, model, solver)
    if ranker != "none":
        from embrec.models.rankers import get_ranker

        get_ranker(ranker)
    hyper = collect_hyperparameters(
        epochs=epochs, lr=lr, wd=wd, emb_l2=emb_l2, factors=factors, layers=layers,
        dropout=dropout, batch_size=batch_size, schedule=schedule, optimizer=optimizer,
        seed=seed, params=param, model=model,
    )
    for key, value in (("valid_fraction", valid_fraction), ("patience", patience),
                       ("threads", threads)):
        if value is not None:
            hyper[key] = value
    main_rank = context is None or context.is_main
    if context is None:
        ratings, parts = load_split(dataset, data_dir, split, seed)
    else:
        ratings, parts = context.main_first(lambda: load_split(dataset, data_dir, split, seed))
    report = parts.report()
    if main_rank:
        print(
            f"{ratings!r}\nsplit {parts.name}: train {report['n_train']:,}, "
            f"test {report['n_test']:,} (cold test users {report['cold_users']}, "
            f"cold test items {report['cold_items']})"
        )
        if report["cold_users"] or report["cold_items"]:
            print(
                f"warning: {report['cold_test_ratings']:,} of {report['n_test']:,} test ratings "
                "belong to users or items never seen in training; they are predicted by the "
                "baseline and measure cold start, not the model"
            )
    checkpoint = checkpoint_dir_for(out)
    if not resume and checkpoint.exists() and main_rank:
        shutil.rmtree(checkpoint)
    provenance = {"dataset": dataset, "split": parts.name, "split_report": report}
    if chosen is not None:
        hyper = chosen.resolve(hyper)
        provenance["preset"] = chosen.to_json()
    if context is not None:
        provenance["processes"] = context.world
    train_part, test_part = parts.train, parts.test
    if with_store is not None:
        from embrec.serving.retrain import with_store as fold_store

        merged = fold_store(parts.train, parts.test, with_store)
        train_part, test_part = merged.train, merged.test
        provenance["rating_store"] = merged.report
        if main_rank:
            print(merged.describe())
    trained = fit(
        train_part, model, valid=test_part, solver=solver, verbose=True,
        checkpoint_dir=checkpoint, resume=resume, provenance=provenance,
        distributed=context, ranker=None if ranker == "none" else ranker, **hyper,
    )
    if not main_rank:
        context.finish()
        return
    trained.save(out)
    shutil.rmtree(checkpoint, ignore_errors=True)
    summary: dict[str, Any] = {
        "model": trained.name,
        "solver": trained.solver,
        "dataset": dataset,
        "split": parts.name,
        "seed": trained.train_config.get("seed", seed),
        "valid_rmse": trained.metrics.get("valid_rmse"),
        "valid_mae": trained.metrics.get("valid_mae"),
        "epochs": len(trained.history.epochs),
        "stopped": trained.history.stopped,
        "train_seconds": round(trained.history.train_seconds, 4),
        "ratings_per_second": round(trained.history.ratings_per_second, 1),
        "model_dir": str(out),
        "fingerprint": trained.provenance.get("fingerprint"),
        "ranker": None if trained.ranker is None else trained.ranker.describe(),
    }
    print(
        f"{trained.name} on {parts.name}: test RMSE {summary['valid_rmse']:.4f}, "
        f"MAE {summary['valid_mae']:.4f} (predictions clipped to "
        f"{trained.scale.low:g}..{trained.scale.high:g}); saved to {out}"
    )
    if trained.ranker is not None:
        described = trained.ranker.describe()
        print(f"ranking model {described['name']}: lambda {described['lambda']:g} "
              f"(carve-out NDCG@10 per lambda: {described['selection']}); top-N lists are "
              "ordered by its pick score x the predicted rating")
    if json_out:
        print(json.dumps(summary))
    if context is not None:
        context.finish()


def lr_find_command(
    dataset: DatasetOpt,
    model: ModelOpt = "mf-bias",
    data_dir: DataDirOpt = None,
    split: SplitOpt = "random:0.2",
    factors: FactorsOpt = None,
    layers: LayersOpt = None,
    dropout: DropoutOpt = None,
    wd: WdOpt = None,
    batch_size: BatchOpt = None,
    optimizer: OptimizerOpt = None,
    seed: SeedOpt = 0,
    steps: Annotated[int, typer.Option("--steps", help="Batches to sweep over.")] = 100,
    plot: Annotated[Path, typer.Option("--plot", help="Where to save the plot (PNG).")] = Path(
        "lr_find.png"
    ),
    param: ParamOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sweep the learning rate on the training part, suggest one and plot loss vs rate."""
    from embrec.training.lr_find import lr_find

    hyper = collect_hyperparameters(
        factors=factors, layers=layers, dropout=dropout, wd=wd, batch_size=batch_size,
        optimizer=optimizer, seed=seed, params=param, model=model,
    )
    _, parts = load_split(dataset, data_dir, split, seed)
    result = lr_find(parts.train, model, steps=steps, **hyper)
    result.plot(plot, title=f"Learning-rate finder: {model} on {dataset} ({parts.name} train)")
    print(
        f"suggested learning rate: {result.suggestion:.2e} "
        f"(minimum loss at {result.min_loss_lr:.2e}); plot saved to {plot}"
    )
    if json_out:
        print(json.dumps({"suggestion": result.suggestion, "min_loss_lr": result.min_loss_lr,
                          "plot": str(plot)}))


def models_command() -> None:
    """List the models, their hyperparameters and solvers."""
    from embrec.models.registry import MODELS

    table = Table(title="embrec models")
    for column in ("name", "what it is", "hyperparameters (defaults)", "solvers"):
        table.add_column(column)
    for spec in MODELS.values():
        defaults = ", ".join(
            f"{k}={v.default}" for k, v in spec.config_cls.model_fields.items()
        )
        table.add_row(spec.name, spec.summary, defaults, ", ".join(spec.solvers))
    Console().print(table)
    from embrec.models.rankers import RANKERS

    for ranker in RANKERS.values():
        print(f"ranking model {ranker.name} (embrec train --ranker {ranker.name}): "
              f"{ranker.summary}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("lr-find")(lr_find_command)
    app.command("models")(models_command)
