"""Options shared by the commands that train (train, lr-find, cv, sweep).

Hyperparameters have named flags for the common ones and ``--param KEY=VALUE``
for any other; all of them end up in one flat dict handed to ``fit``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.errors import ConfigError

DatasetOpt = Annotated[
    str, typer.Option("--dataset", "-d", help="Dataset name (ml-100k, ...) or a ratings file.")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder holding dataset folders (default: $EMBREC_DATA_DIR)."),
]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model name (see `embrec models`).")]
SolverOpt = Annotated[
    str | None, typer.Option("--solver", help="How to fit: torch, sgd, als (model default).")
]
EpochsOpt = Annotated[int | None, typer.Option("--epochs", help="Training epochs.")]
LrOpt = Annotated[float | None, typer.Option("--lr", help="(Peak) learning rate.")]
WdOpt = Annotated[
    float | None, typer.Option("--weight-decay", "--wd", help="Weight decay (weight_decay).")
]
EmbL2Opt = Annotated[
    float | None, typer.Option("--emb-l2", help="L2 on the embedding rows a batch uses.")
]
FactorsOpt = Annotated[
    int | None, typer.Option("--factors", help="Embedding width (every model that has one).")
]
LayersOpt = Annotated[str | None, typer.Option("--layers", help="Hidden layers, e.g. 100,50.")]
DropoutOpt = Annotated[float | None, typer.Option("--dropout", help="Dropout probability.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Batch size.")]
ScheduleOpt = Annotated[
    str | None, typer.Option("--schedule", help="one-cycle, constant or cosine.")
]
OptimizerOpt = Annotated[
    str | None, typer.Option(
        "--optimizer", help="adamw, adam, sgd, sparse-adam, lazy-adam or row-adagrad."
    )
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Any hyperparameter as KEY=VALUE (repeatable)."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="End with one JSON object on the last line.")
]


def parse_value(text: str) -> Any:
    """A CLI value as JSON when it parses (numbers, lists, null), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(params: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE, e.g. --param factors=64")
        out[key.strip().replace("-", "_")] = parse_value(value.strip())
    return out


def collect_hyperparameters(
    *,
    epochs: int | None = None,
    lr: float | None = None,
    wd: float | None = None,
    emb_l2: float | None = None,
    factors: int | None = None,
    layers: str | None = None,
    dropout: float | None = None,
    batch_size: int | None = None,
    schedule: str | None = None,
    optimizer: str | None = None,
    seed: int = 0,
    params: list[str] | None = None,
    model: str = "",
) -> dict[str, Any]:
    """The flags a user gave, as the keyword arguments of ``fit``.

    ``--dropout`` for a model whose config has no dropout is an error here,
    before any data is read (it is also a training option of no solver).
    """
    values: dict[str, Any] = {
        "epochs": epochs, "lr": lr, "weight_decay": wd, "emb_l2": emb_l2,
        "batch_size": batch_size, "schedule": schedule, "optimizer": optimizer,
        "dropout": dropout, "factors": factors, "layers": layers, "seed": seed,
    }
    if dropout is not None and model:
        from embrec.models.registry import get_spec

        if not get_spec(model).accepts("dropout"):
            raise ConfigError(f"model {model!r} has no dropout; drop --dropout")
    values.update(parse_params(params))
    if "solver" in values:
        raise ConfigError("give the solver as --solver NAME, not as a hyperparameter")
    return {k: v for k, v in values.items() if v is not None}
