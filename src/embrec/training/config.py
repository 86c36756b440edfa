"""How a model is trained: a typed, validated configuration.

Unknown keys are an error; the whole config is written into every bundle and
result so a number can be reproduced from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from embrec.device import DEVICE_PATTERN
from embrec.errors import ConfigError


class TrainConfig(BaseModel):
    """Training hyperparameters.

    Attributes:
        solver: how the parameters are found (``torch``, ``sgd``, ``als``,
            ``gibbs``: one the model's spec declares); None until ``fit`` sets
            the model's default, so every bundle records the solver that ran.
        epochs: passes over the training ratings (or rows).
        lr: the (peak, for one-cycle) learning rate.
        weight_decay: decoupled weight decay (AdamW style) on dense parameters.
        emb_l2: L2 on the embedding rows a batch used, added to the loss as
            ``emb_l2 · Σ‖used rows‖² / batch`` (the regulariser of SGD-trained MF).
        batch_size: ratings (pair models) or rows (row models) per step.
        optimizer: ``adam``, ``adamw``, ``sgd``; ``sparse-adam`` (torch's
            SparseAdam), ``lazy-adam`` and ``row-adagrad`` keep embedding tables
            row-sparse so a step costs in proportion to the batch (see
            :mod:`embrec.training.row_sparse`).
        schedule: ``constant``, ``one-cycle`` (fastai's ``fit_one_cycle``), ``cosine``.
        grad_clip: max gradient norm, or None.
        valid_fraction: share of the training ratings held out to monitor
            early stopping (never the test set); 0 disables it.
        patience: epochs without improvement of the monitored RMSE before
            stopping; None trains all epochs (best weights are still restored).
        seed: seeds initialisation, permutations and dropout.
        threads: torch intra-op threads (None: one below a million training ratings,
            else the free cores; see :mod:`embrec.training.threads`).
        device: where the torch solver trains: ``auto`` (a CUDA GPU when torch
            sees one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``. The
            compiled solvers (sgd, als, gibbs) run on the CPU. Bundles are saved
            from CPU tensors whatever the device.
        precision: ``fp32`` or ``bf16``: with ``bf16`` the torch solver runs each
            batch's forward pass and loss under ``torch.autocast(device_type,
            dtype=torch.bfloat16)`` (matrix products in bfloat16: 8 bits of
            mantissa, float32's range), while the master weights, gradients,
            optimiser state, evaluation and prediction stay float32. Read by the
            torch solver only. Measured on a 2-core CPU, ml-100k u1, default
            settings, seed 0: embnet test RMSE 0.91795 (fp32) against 0.91772
            (bf16), autorec 0.90472 against 0.90475; a difference of 0.0002 or
            less, with training seconds 4.8 against 3.9 (embnet) and 16.7
            against 15.1 (autorec) at load average 2.5 to 3.2.

    Which solver reads which option: see ``uses`` on each solver
    (:mod:`embrec.training.solver`); an option given explicitly that the
    chosen solver does not read is an error.
    """

    model_config = ConfigDict(extra="forbid")

    solver: str | None = None
    epochs: int = 10
    lr: float = 5e-3
    weight_decay: float = 0.0
    emb_l2: float = 0.0
    batch_size: int = 1024
    optimizer: Literal[
        "adam", "adamw", "sgd", "sparse-adam", "lazy-adam", "row-adagrad"
    ] = "adamw"
    schedule: Literal["constant", "one-cycle", "cosine"] = "one-cycle"
    grad_clip: float | None = None
    valid_fraction: float = 0.0
    patience: int | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"

    @model_validator(mode="after")
    def _check_ranges(self) -> TrainConfig:
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if not self.lr > 0:
            raise ValueError("lr must be positive")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError("valid_fraction must be in [0, 1)")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        return self


def make_train_config(values: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from a dict, with a one-line ConfigError on a bad key or value."""
    try:
        return TrainConfig(**values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"training option {where}: {first['msg']}") from None


TRAIN_KEYS = frozenset(TrainConfig.model_fields)
