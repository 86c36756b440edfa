"""``fit``: train a registered model on a training set and return a TrainedModel.

    trained = embrec.fit(split.train, "mf-bias", test=split.test, epochs=5, lr=5e-3)
    trained.metrics["test_rmse"]
    best = embrec.fit(split.train, preset="best", test=split.test)

The epoch table is shown as training goes (``verbose=True``, the default): text
in a log, a progress bar in a terminal or a Jupyter notebook.

Hyperparameters are one flat set of keywords: those of the model's config
(``factors``, ``layers``, ...) and those of :class:`TrainConfig` (``epochs``,
``lr``, ...). Anything else is an error naming the accepted keys. The fit step
itself is replaceable: ``solver`` picks how the parameters are found (the
PyTorch loop, or a closed-form / compiled solver where a model has one); it is
part of the training config the bundle records. The defaults of each model and
solver are declared on the model's spec (:mod:`embrec.models.spec`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embrec.bundle import Metrics, TrainedModel
from embrec.data.align import align_ratings
from embrec.data.ratings import Ratings
from embrec.data.sufficiency import require_enough
from embrec.data.transform import RatingTransform
from embrec.device import device_name
from embrec.errors import ConfigError
from embrec.models.rankers import fit_ranker
from embrec.models.registry import ModelConfig, ModelSpec, get_spec
from embrec.predictor import Fallback
from embrec.presets import apply_preset, get_preset
from embrec.solvers.biases import BiasSolver
from embrec.solvers.blend import BlendSolver
from embrec.solvers.compiled import ALSSolver, SGDSolver
from embrec.solvers.fullbatch import FullBatchSolver
from embrec.solvers.gibbs_solver import GibbsSolver
from embrec.solvers.glocal import GLocalSolver
from embrec.training.config import TRAIN_KEYS, TrainConfig, make_train_config
from embrec.training.history import (
    RATING_UNITS,
    EpochRecord,
    EpochTable,
    History,
    record_in_units,
)
from embrec.training.loop import TrainingLoop
from embrec.training.solver import Problem, Solver, check_options
from embrec.training.threads import configure_threads
from embrec.training.torch_solver import TorchSolver, evaluate
from embrec.tuning.budget import Budget

if TYPE_CHECKING:
    from embrec.training.distributed import Distributed


def split_hyperparameters(
    spec: ModelSpec, values: dict[str, Any], solver: str = "torch",
    size: tuple[int, int] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """Separate model from training hyperparameters; the training config records ``solver``.

    ``reg``, the regularisation strength, becomes the option the model reads
    with ``solver`` (:meth:`~embrec.models.spec.ModelSpec.translate_reg`), and
    is recorded under that name.

    Training defaults come from the model's spec: its own, then its solver's
    (a compiled SGD wants other rates than Adam), then those for data of
    ``size`` (``(n_users, n_items)``, when given), then ``values``.
    """
    check_solver(spec, solver)
    values = spec.translate_reg(values, solver)
    unknown = [k for k in values if not spec.accepts(k) and k not in TRAIN_KEYS]
    if "solver" in values:
        raise ConfigError("give the solver as solver=..., not among the hyperparameters")
    if unknown:
        accepted = sorted(set(spec.config_cls.accepted_names()) | TRAIN_KEYS - {"solver"}
                          | ({"reg"} if spec.reg_option else set()))
        raise ConfigError(
            f"unknown hyperparameter {unknown[0]!r} for model {spec.name!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    model_values = {k: v for k, v in values.items() if spec.accepts(k)}
    device = values.get("device", TrainConfig.model_fields["device"].default)
    train_values = spec.training_defaults(solver, size, device)
    train_values.update({k: v for k, v in values.items() if k in TRAIN_KEYS})
    train_values["solver"] = solver
    return spec.make_config(model_values), make_train_config(train_values)


def check_solver(spec: ModelSpec, solver: str) -> None:
    """A ConfigError unless ``solver`` is one of the model's."""
    if solver not in spec.solvers:
        raise ConfigError(
            f"model {spec.name!r} has no solver {solver!r}; choose one of {', '.join(spec.solvers)}"
        )


def carve_monitor(train: Ratings, fraction: float, seed: int) -> tuple[Ratings, Ratings | None]:
    """Hold out ``fraction`` of the training ratings (seeded) to monitor early stopping."""
    if fraction <= 0:
        return train, None
    from embrec.data.splits import holdout_validation

    part = holdout_validation(train, fraction, seed)
    return part.train, part.test


DEFAULT_MODEL = "mf-bias"


def fit(
    train: Ratings,
    model: str | None = None,
    *,
    preset: str | None = None,
    test: Ratings | None = None,
    solver: str | None = None,
    verbose: bool = True,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    provenance: dict[str, Any] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    distributed: Distributed | None = None,
    ranker: str | None = None,
    tune: str | int | Budget | None = None,
    valid: Ratings | None = None,
    **hyperparameters: Any,
) -> TrainedModel:
    """Train ``model`` on ``train``; ``test`` (e.g. the test part of a split) is only reported.

    ``model`` defaults to ``mf-bias``. ``preset`` (``"fast"``, ``"best"``, ...: see
    :mod:`embrec.presets`) sets the model, the solver and hyperparameters that
    were cross-validated together; hyperparameters given beside it override the
    preset's, a ``model`` or ``solver`` given beside it must be the preset's. The
    preset is recorded in ``provenance["preset"]``. ``verbose`` (default True)
    shows the preset and the epoch table as training goes; False is quiet.

    ``test`` read on its own (a separate test file, whose id maps differ from
    ``train``'s) is mapped into ``train``'s id space by raw id, never compared
    index by index; its users and items that ``train`` lacks get the fallback
    prediction and are counted in ``metrics`` (``test_unknown_users``,
    ``test_unknown_items``, ``test_fallback_ratings``...). Its scores are
    ``metrics["test_rmse"]``, ``test_mae``, ``test_loss`` and ``n_test``.
    ``valid=`` is the old name of ``test=`` (deprecated).

    ``tune`` (``30`` trials, ``"60s"``, ``"5m"``, ``"default"``) first searches the
    model's hyperparameters on a carve-out of ``train`` (never ``test``; see
    :mod:`embrec.tuning.search`), then fits all of ``train`` with the chosen
    values; the search is recorded in ``provenance["tuning"]``. Hyperparameters
    given beside it are kept, not searched.

    ``ranker`` (e.g. ``"ease"``, :mod:`embrec.models.rankers`) also fits a ranking
    model on the same ratings; the bundle then orders top-N lists with it.

    Early stopping, when ``patience`` and ``valid_fraction`` are set, monitors a
    part carved from ``train``, never ``test``. With ``distributed`` (from
    :func:`~embrec.training.distributed.init_distributed`) this process trains
    its rank's shard under DDP; ``batch_size`` stays the effective batch.

    Ratings on a scale far from 1..5 (1..100, -10..10, 0..1) are mapped onto
    1..5 where training starts, so every model's defaults hold, and mapped back
    in predictions; ``trained.transform`` records the map (see
    :mod:`embrec.data.transform`), the epoch table and history are in rating
    units. Fewer than two training ratings, or an empty ``test``, is a
    :class:`~embrec.errors.DataError` saying how much is needed.
    """
    if valid is not None:
        if test is not None:
            raise ConfigError("valid= is the old name of test=; give only test=")
        warnings.warn("fit(valid=...) is now fit(test=...)", DeprecationWarning, stacklevel=2)
        test = valid
    if preset is not None:
        model, solver, hyperparameters, provenance = with_preset(
            preset, model, solver, hyperparameters, provenance
        )
        if verbose:
            print(get_preset(preset).describe())
    spec = get_spec(model or DEFAULT_MODEL)
    solver = solver or ("torch" if distributed is not None else spec.default_solver)
    explicit = set(hyperparameters)
    # Options are checked before the data is read: a bad one is named even without data.
    size = (train.n_users, train.n_items) if isinstance(train, Ratings) else None
    model_config, config = split_hyperparameters(spec, hyperparameters, solver, size)
    if tune is not None:
        from embrec.tuning.search import search_hyperparameters  # optuna: only when tuning

        search = search_hyperparameters(
            fit, train, spec.name, solver, hyperparameters,
            {**model_config.model_dump(), **config.model_dump()}, tune,
            seed=config.seed, verbose=verbose,
        )
        if verbose:
            print(search.describe())
        hyperparameters = {**hyperparameters, **search.chosen}
        provenance = {**(provenance or {}), "tuning": search.to_json()}
        model_config, config = split_hyperparameters(spec, hyperparameters, solver, size)
    configure_threads(config.threads, len(train))
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    alignment = None if test is None else align_ratings(test, train)
    if alignment is not None:
        test = alignment.ratings
    fit_part, monitor = carve_monitor(train, config.valid_fraction, config.seed)
    require_enough(fit_part, test)
    transform = RatingTransform.for_scale(train.scale)
    if verbose and not transform.identity:
        print(f"rating scale {train.scale.low:g}..{train.scale.high:g}: {transform.describe()}")
    reference = transform.forward_ratings(fit_part)
    fallback = Fallback.fit(reference)
    if distributed is None:
        solver_cls = solver_class(solver, model_config)
        check_options(solver_cls, explicit, SOLVERS)
    if on_epoch is not None and not transform.identity:
        report = on_epoch

        def on_epoch(record: EpochRecord) -> None:
            report(record_in_units(record, transform.factor))

    units = RATING_UNITS.set(transform.factor)
    try:
        options = dict(
            valid=transform.forward_ratings(test), monitor=transform.forward_ratings(monitor),
            verbose=verbose,
            checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
            resume=resume, on_epoch=on_epoch,
        )
        trained_on = config.device if distributed is None else distributed.device
        if distributed is None:
            problem = Problem(spec, model_config, config, reference, fallback, verbose=verbose,
                              fitter=fit, reads=reads_option)
            fitter = solver_cls(problem)
            trained_on = device_name(fitter.device)
            module, history, model_config = run_solver(fitter, **options)
        else:
            module, history, model_config = distributed.fitter(solver)(
                spec, model_config, config, reference, fallback, **options)
    finally:
        RATING_UNITS.reset(units)
    trained = TrainedModel(
        name=spec.name,
        model_config=model_config,
        module=module,
        train=fit_part,
        fallback=transform.inverse_fallback(fallback),
        train_config={**config.model_dump(), "device": trained_on},
        solver=solver,
        history=history.in_rating_units(transform.factor),
        provenance={"fingerprint": train.fingerprint(), "seed": config.seed, **(provenance or {})},
        transform=transform,
        device=trained_on,
    )
    if ranker is not None:
        trained.ranker = fit_ranker(fit_part, ranker, seed=config.seed)
    if test is not None:
        result = evaluate(trained.predictor, test)
        trained.metrics = Metrics({"test_rmse": result.rmse, "test_mae": result.mae,
                                   "test_loss": result.loss, "n_test": len(test)})
        if alignment is not None and alignment.remapped:
            trained.metrics.update(alignment.report("test_"))
    return trained


def with_preset(
    name: str,
    model: str | None,
    solver: str | None,
    hyperparameters: dict[str, Any],
    provenance: dict[str, Any] | None,
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """The model, solver, hyperparameters and provenance of a fit with preset ``name``."""
    chosen, hyper = apply_preset(name, hyperparameters, model=model, solver=solver, keywords=True)
    provenance = {**(provenance or {}), "preset": chosen.to_json()}
    return chosen.model, chosen.solver, hyper, provenance


SOLVERS: dict[str, type[Solver]] = {
    "torch": TorchSolver,
    "sgd": SGDSolver,
    "als": ALSSolver,
    "biases": BiasSolver,
    "gibbs": GibbsSolver,
    "glocal": GLocalSolver,
    "fullbatch": FullBatchSolver,
    "blend": BlendSolver,
}
"""Every solver by name: a :class:`~embrec.training.solver.Solver` the loop drives."""


def solver_class(name: str, model_config: ModelConfig) -> type[Solver]:
    """The solver class of ``name`` for a model config.

    ``als`` of a model without factor tables (``baseline``: only biases) is the
    biases' closed form, itself alternating least squares.
    """
    if name == "als" and not hasattr(model_config, "factors"):
        return BiasSolver
    return SOLVERS[name]


def reads_option(model: str, option: str, solver: str | None = None) -> bool:
    """Whether fitting ``model`` with ``solver`` (default: the model's) reads training ``option``.

    A caller that sets one option across models (``epochs=2`` for every model of
    a comparison) asks first: giving it to a solver that ignores it is an error.
    """
    spec = get_spec(model)
    return option in solver_class(solver or spec.default_solver, spec.make_config({})).uses


def run_solver(
    solver: Solver,
    *,
    valid: Ratings | None,
    monitor: Ratings | None,
    verbose: bool,
    checkpoint_dir: Path | None,
    resume: bool,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> tuple[torch.nn.Module, History, ModelConfig]:
    """Train ``solver`` in the one epoch loop; returns ``(module, history, fitted config)``."""
    loop = TrainingLoop(
        solver, solver.config, valid=valid, monitor=monitor,
        table=EpochTable(enabled=verbose, epochs=solver.epochs),
        checkpoint_dir=checkpoint_dir, on_epoch=on_epoch,
    )
    if resume:
        loop.resume()
    history = loop.fit()
    module, fitted = solver.finish()
    return module, history, fitted
