"""Options shared by the commands that train (train, lr-find, cv, sweep), declared once.

Hyperparameters have named flags for the common ones and ``--param KEY=VALUE``
for any other; all of them end up in one flat dict handed to ``fit``. The flags
come in groups (:class:`HyperparameterFlags`, :class:`StoppingFlags`,
:class:`ReaderFlags`): a command takes a group as one typed parameter, and
:func:`with_flags` spreads the group's flags into the command line::

    @with_flags(hyper=HyperparameterFlags, reader=ReaderFlags)
    def train_command(out: ..., model: ModelOpt = "mf-bias", *,
                      hyper: HyperparameterFlags, reader: ReaderFlags) -> None:
        fit(..., **hyper.for_model(model))
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.cli.reader_options import (
    ItemColOpt,
    RatingColOpt,
    ScaleOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    reader_options,
)
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
    float | None, typer.Option("--weight-decay", help="Weight decay (weight_decay).")
]
OldWdOpt = Annotated[
    float | None, typer.Option("--wd", hidden=True, help="Old name of --weight-decay.")
]
RegOpt = Annotated[
    float | None,
    typer.Option("--reg", help="Regularisation strength of the model: the option it sets "
                               "per model and solver is in `embrec models`."),
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
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="Where the torch solver trains: auto (a CUDA GPU when torch "
                                  "sees one, else the CPU; the default), cpu, cuda or cuda:N. "
                                  "The sgd, als and gibbs solvers run on the CPU."),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option("--precision", help="fp32 (the default) or bf16: the torch solver's forward "
                                     "pass in bfloat16 autocast, weights kept in float32."),
]
ScoreDeviceOpt = Annotated[
    str, typer.Option("--device", help="Where the model scores: cpu (the default), cuda, "
                                       "cuda:N or auto (a CUDA GPU when torch sees one).")
]
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
    reg: float | None = None,
    wd: float | None = None,
    emb_l2: float | None = None,
    factors: int | None = None,
    layers: str | None = None,
    dropout: float | None = None,
    batch_size: int | None = None,
    schedule: str | None = None,
    optimizer: str | None = None,
    seed: int = 0,
    device: str | None = None,
    precision: str | None = None,
    params: list[str] | None = None,
    model: str = "",
) -> dict[str, Any]:
    """The flags a user gave, as the keyword arguments of ``fit``.

    ``--dropout`` for a model whose config has no dropout is an error here,
    before any data is read (it is also a training option of no solver).
    """
    values: dict[str, Any] = {
        "epochs": epochs, "lr": lr, "reg": reg, "weight_decay": wd, "emb_l2": emb_l2,
        "batch_size": batch_size, "schedule": schedule, "optimizer": optimizer,
        "dropout": dropout, "factors": factors, "layers": layers, "seed": seed,
        "device": device, "precision": precision,
    }
    if dropout is not None and model:
        from embrec.models.registry import get_spec

        if not get_spec(model).accepts("dropout"):
            raise ConfigError(f"model {model!r} has no dropout; drop --dropout")
    values.update(parse_params(params))
    if "solver" in values:
        raise ConfigError("give the solver as --solver NAME, not as a hyperparameter")
    return {k: v for k, v in values.items() if v is not None}


ValidFractionOpt = Annotated[
    float | None,
    typer.Option("--valid-fraction", help="Share of the training ratings held out to stop early."),
]
PatienceOpt = Annotated[
    int | None, typer.Option("--patience", help="Early-stopping patience in epochs.")
]


@dataclasses.dataclass(frozen=True)
class HyperparameterFlags:
    """The hyperparameter flags of every training command (the keywords of ``fit``)."""

    epochs: EpochsOpt = None
    lr: LrOpt = None
    reg: RegOpt = None
    weight_decay: WdOpt = None
    wd: OldWdOpt = None
    emb_l2: EmbL2Opt = None
    factors: FactorsOpt = None
    layers: LayersOpt = None
    dropout: DropoutOpt = None
    batch_size: BatchOpt = None
    schedule: ScheduleOpt = None
    optimizer: OptimizerOpt = None
    seed: SeedOpt = 0
    device: DeviceOpt = None
    precision: PrecisionOpt = None
    param: ParamOpt = None

    def for_model(self, model: str) -> dict[str, Any]:
        """The flags given, as ``fit``'s keywords for ``model`` (``seed`` included)."""
        weight_decay = self.weight_decay
        if self.wd is not None:
            if weight_decay is not None:
                raise ConfigError("--wd is the old name of --weight-decay; give only one")
            warnings.warn("--wd is now --weight-decay", DeprecationWarning, stacklevel=2)
            weight_decay = self.wd
        return collect_hyperparameters(
            epochs=self.epochs, lr=self.lr, reg=self.reg, wd=weight_decay,
            emb_l2=self.emb_l2,
            factors=self.factors, layers=self.layers, dropout=self.dropout,
            batch_size=self.batch_size, schedule=self.schedule, optimizer=self.optimizer,
            seed=self.seed, device=self.device, precision=self.precision, params=self.param,
            model=model,
        )


@dataclasses.dataclass(frozen=True)
class StoppingFlags:
    """Early stopping: a share of the training ratings monitored, and the patience."""

    valid_fraction: ValidFractionOpt = None
    patience: PatienceOpt = None

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class ReaderFlags:
    """How to read a ratings file (:mod:`embrec.cli.reader_options`)."""

    user_col: UserColOpt = None
    item_col: ItemColOpt = None
    rating_col: RatingColOpt = None
    time_col: TimeColOpt = None
    sep: SepOpt = None
    scale: ScaleOpt = None

    def options(self) -> dict[str, Any]:
        return reader_options(self.user_col, self.item_col, self.rating_col, self.time_col,
                              self.sep, self.scale)


def with_flags(omit: tuple[str, ...] = (), **groups: type) -> Callable[[Callable[..., Any]],
                                                                   Callable[..., Any]]:
    """Give a command each flag group's flags; it receives the groups built, by keyword.

    The command line shows the command's own options, then the groups' in order;
    flags named in ``omit`` are left out (their group field keeps its default).
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.name not in groups]
        members: dict[str, list[str]] = {}
        added: list[inspect.Parameter] = []
        for keyword, group in groups.items():
            hints = typing.get_type_hints(group, include_extras=True)
            fields = [f for f in dataclasses.fields(group) if f.name not in omit]
            members[keyword] = [f.name for f in fields]
            added += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=f.default, annotation=hints[f.name])
                      for f in fields]

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            built = {keyword: groups[keyword](**{name: kwargs.pop(name) for name in names})
                     for keyword, names in members.items()}
            return command(**kwargs, **built)

        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate
