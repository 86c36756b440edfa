"""``embrec models``: what can be trained, with its hyperparameters and training defaults."""

from __future__ import annotations

from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from embrec.presets import PRESETS

TRAINING_SETTINGS: dict[str, tuple[str, ...]] = {
    "torch": ("epochs", "lr", "optimizer", "schedule", "batch_size", "weight_decay", "emb_l2"),
    "sgd": ("epochs", "lr", "schedule", "emb_l2"),
    "als": ("epochs", "emb_l2"),
    "gibbs": ("epochs",),
}
"""The training settings each solver reads (the rest of ``TrainConfig`` it ignores)."""

SETTING_HEADERS = {"batch_size": "batch", "weight_decay": "wd", "optimizer": "optim"}


def training_defaults(spec: Any, solver: str) -> dict[str, Any]:
    """What ``embrec train --model NAME --solver SOLVER`` trains with when no flag is given.

    The settings ``solver`` reads, from the model's training defaults, then the
    solver's defaults for that model, then ``TrainConfig``'s. Empty when neither
    the model nor the solver sets any: the fit is then configured by the
    model's hyperparameters alone (the closed-form baseline).
    """
    from embrec.training.fit import split_hyperparameters

    if not spec.training_defaults(solver):
        return {}
    _, config = split_hyperparameters(spec, {}, solver)
    return {key: getattr(config, key) for key in TRAINING_SETTINGS.get(solver, ())}


def _setting(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def models_command() -> None:
    """List the models: hyperparameters, solvers, and the training defaults of each solver."""
    from embrec.models.registry import MODELS

    console = Console()
    table = Table(title="embrec models")
    for column in ("name", "what it is", "hyperparameters (defaults)", "solvers", "reg sets"):
        table.add_column(column)
    for spec in MODELS.values():
        defaults = ", ".join(
            f"{k}={v.default}" for k, v in spec.config_cls.model_fields.items()
        )
        expands = spec.config_cls.expands
        shared = ", ".join(f"{k} sets {' and '.join(v)}" for k, v in expands.items())
        defaults += f" ({shared})" if shared else ""
        table.add_row(spec.name, spec.summary, defaults, ", ".join(spec.solvers),
                      spec.describe_reg())
    console.print(table)

    settings = TRAINING_SETTINGS["torch"]
    training = Table(
        title="training defaults (the first solver is the default; flags override)",
        caption="blank: the solver does not use it; -: set by the hyperparameters alone",
        box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0),
    )
    for column in ("model", "solver", *(SETTING_HEADERS.get(k, k) for k in settings)):
        training.add_column(column, no_wrap=True,
                            justify="left" if column in ("model", "solver") else "right")
    for spec in MODELS.values():
        for solver in spec.solvers:
            values = training_defaults(spec, solver)
            cells = [_setting(values[k]) if k in values else ("-" if not values else "")
                     for k in settings]
            training.add_row(spec.name if solver == spec.solvers[0] else "", solver, *cells)
    console.print(training)
    for spec in MODELS.values():
        for solver, rule in spec.sized_defaults.items():
            print(f"{spec.name} ({solver}), by the data's size: {rule.__doc__.splitlines()[0]}")
    from embrec.models.rankers import RANKERS

    for ranker in RANKERS.values():
        print(f"ranking model {ranker.name} (embrec train --ranker {ranker.name}): "
              f"{ranker.summary}")
    console.print(presets_table())


def presets_table() -> Table:
    """``--preset NAME``: model and solver, and what it measured (accuracy and time per fit)."""
    table = Table(title="presets (embrec train --preset NAME; flags override)",
                  box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for column in ("preset", "model (solver)", "measured"):
        table.add_column(column)
    for preset in PRESETS.values():
        table.add_row(preset.name, f"{preset.model} ({preset.solver})", preset.summary)
    return table


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
