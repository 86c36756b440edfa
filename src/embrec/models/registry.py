"""The models embrec knows, by the short names the CLI uses.

Each entry binds a name to a typed, validated hyperparameter class (unknown
keys are refused), a builder of the network, the solvers that can fit it and
the training defaults that make a plain ``embrec train --model NAME`` good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from torch import nn

from embrec.errors import ConfigError
from embrec.models.autorec import AutoRec
from embrec.models.base import DataShape
from embrec.models.baseline import BiasOnly
from embrec.models.bfm import BayesianFM, default_width
from embrec.models.deep_ae import DeepAutoEncoder
from embrec.models.embnet import EmbeddingNet
from embrec.models.glocal_k import GLocalK
from embrec.models.mf import DotProduct, DotProductBias

YRange = tuple[float, float] | Literal["auto"] | None


class ModelConfig(BaseModel):
    """Hyperparameters of a network; extra keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_y_range(y_range: YRange, shape: DataShape) -> tuple[float, float] | None:
    """``"auto"`` widens the rating scale by half a star each side, e.g. 1..5 -> (0.5, 5.5)."""
    if y_range == "auto":
        return (shape.rating_low - 0.5, shape.rating_high + 0.5)
    return None if y_range is None else (float(y_range[0]), float(y_range[1]))


class BaselineConfig(ModelConfig):
    reg_user: float = 15.0
    reg_item: float = 10.0
    sweeps: int = 10


class MFConfig(ModelConfig):
    factors: int = 50
    y_range: YRange = None


class MFBiasConfig(ModelConfig):
    factors: int = 50
    y_range: YRange = "auto"


class EmbNetConfig(ModelConfig):
    user_factors: int | None = None
    item_factors: int | None = None
    layers: tuple[int, ...] = (100, 50)
    dropout: float = 0.3
    emb_dropout: float = 0.05
    y_range: YRange = "auto"
    biases: bool = True
    dot_factors: int = 32

    @field_validator("layers", mode="before")
    @classmethod
    def _parse_layers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(v) for v in value.replace(" ", "").split(",") if v)
        return value


class AutoRecConfig(ModelConfig):
    """``l2 = 200`` with a cosine-annealed 60 epochs: ml-100k u1..u5 mean RMSE 0.898."""

    hidden: int = 500
    orientation: Literal["item", "user"] = "item"
    l2: float = 200.0


class DeepAEConfig(ModelConfig):
    """Dropout on the code and on the input rows (denoising): with both at 0.5 and
    weight decay 1e-3 the ml-100k u1..u5 mean is 0.954 (0.996 with 0.1 / 0 / 1e-5),
    and a row of only 5-20 ratings, as a new user's, stops being unlike training."""

    layers: tuple[int, ...] = (512, 256, 64)
    dropout: float = 0.5
    input_dropout: float = 0.5

    @field_validator("layers", mode="before")
    @classmethod
    def _parse_layers(cls, value: Any) -> Any:
        return EmbNetConfig._parse_layers(value)


class GLocalKConfig(ModelConfig):
    """GLocal-K (:mod:`embrec.models.glocal_k`) with the paper's ml-100k settings; each
    epoch is at most ``iterations`` full-batch L-BFGS steps (:mod:`embrec.solvers.glocal`).
    ``optimizer="scipy"`` is SciPy's L-BFGS-B, afresh each epoch, as the paper's code;
    ``"torch"`` is ``torch.optim.LBFGS`` (afresh each epoch with ``restart``: u1 0.954
    after the 30 pre-training epochs, slower to converge than SciPy's)."""

    hidden: int = Field(500, ge=1)
    layers: int = Field(2, ge=1)
    kernel_dim: int = Field(5, ge=1)
    kernel_size: int = Field(3, ge=1)
    lambda_2: float = Field(20.0, ge=0)
    lambda_s: float = Field(0.006, ge=0)
    dot_scale: float = 1.0
    pretrain_epochs: int = Field(30, ge=1)
    finetune_epochs: int = Field(60, ge=0)
    iterations: int = Field(5, ge=1)
    pretrain_tol: float = Field(0.0, ge=0)
    optimizer: Literal["scipy", "torch"] = "scipy"
    restart: bool = False

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd (3, 5...), not {value}")
        return value


class BFMConfig(ModelConfig):
    """Bayesian FM (:mod:`embrec.models.bfm`); ``width`` is set by the solver."""

    rank: int = 16
    burn_in: int = 100
    implicit: bool = True
    flipped: bool = True
    side: bool = True
    init_std: float = 0.1
    width: int | None = None
    fold_in_samples: int = 16


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its config class, builder, solvers and training defaults."""

    name: str
    summary: str
    config_cls: type[ModelConfig]
    build: Callable[[ModelConfig, DataShape, bool], nn.Module]
    solvers: tuple[str, ...] = ("torch",)
    train_defaults: dict[str, Any] = field(default_factory=dict)

    def make_config(self, values: dict[str, Any] | None = None) -> ModelConfig:
        try:
            return self.config_cls(**(values or {}))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            raise ConfigError(
                f"model {self.name!r}: {where}: {first['msg']}"
                f" (accepted: {', '.join(self.config_cls.model_fields)})"
            ) from None


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "baseline",
            "global mean + regularised user and item biases (closed-form ALS)",
            BaselineConfig,
            lambda c, s, sparse: BiasOnly(s),
            solvers=("als",),
        ),
        ModelSpec(
            "mf",
            "dot product of user and item embeddings",
            MFConfig,
            lambda c, s, sparse: DotProduct(s, c.factors, resolve_y_range(c.y_range, s), sparse),
            solvers=("sgd", "torch", "als"),
            train_defaults={"epochs": 5, "lr": 5e-3, "weight_decay": 0.1, "batch_size": 1024},
        ),
        ModelSpec(
            "mf-bias",
            "dot product + user and item biases, sigmoid into y_range",
            MFBiasConfig,
            lambda c, s, sparse: DotProductBias(
                s, c.factors, resolve_y_range(c.y_range, s), sparse
            ),
            solvers=("sgd", "torch", "als"),
            train_defaults={"epochs": 5, "lr": 5e-3, "weight_decay": 0.1, "batch_size": 1024},
        ),
        ModelSpec(
            "embnet",
            "concatenated embeddings into an MLP with dropout, sigmoid into y_range",
            EmbNetConfig,
            lambda c, s, sparse: EmbeddingNet(
                s, c.user_factors, c.item_factors, c.layers, c.dropout, c.emb_dropout,
                resolve_y_range(c.y_range, s) or (s.rating_low - 0.5, s.rating_high + 0.5),
                sparse, c.biases, c.dot_factors,
            ),
            train_defaults={"epochs": 5, "lr": 5e-3, "weight_decay": 1.0, "batch_size": 1024},
        ),
        ModelSpec(
            "autorec",
            "AutoRec (Sedhain et al. 2015): one sigmoid hidden layer over matrix rows",
            AutoRecConfig,
            lambda c, s, sparse: AutoRec(s, c.hidden, c.orientation, c.l2),
            train_defaults={"epochs": 60, "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64,
                            "schedule": "cosine"},
        ),
        ModelSpec(
            "deep-ae",
            "deep user autoencoder 512-256-64 with dropout (Kuchaiev & Ginsburg 2017)",
            DeepAEConfig,
            lambda c, s, sparse: DeepAutoEncoder(s, c.layers, c.dropout, c.input_dropout),
            train_defaults={"epochs": 30, "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 128,
                            "schedule": "constant"},
        ),
        ModelSpec(
            "glocal-k",
            "GLocal-K (Han et al. 2021): item autoencoder with local kernelised weights, "
            "pre-trained, fine-tuned with a global convolution kernel (full-batch L-BFGS)",
            GLocalKConfig,
            lambda c, s, sparse: GLocalK(
                s, c.hidden, c.layers, c.kernel_dim, c.kernel_size, c.lambda_2, c.lambda_s,
                c.dot_scale, global_kernel=c.finetune_epochs > 0,
            ),
            solvers=("glocal",),
        ),
        ModelSpec(
            "bfm",
            "Bayesian factorisation machine by Gibbs sampling: ids, implicit feedback of "
            "users and items, side information",
            BFMConfig,
            lambda c, s, sparse: BayesianFM(
                s, c.width or default_width(s), c.rank, c.fold_in_samples
            ),
            solvers=("gibbs",),
            train_defaults={"epochs": 400},
        ),
    ]
}


def get_spec(name: str) -> ModelSpec:
    """The registered model of that name, or a ConfigError listing the names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; choose one of: {', '.join(MODELS)}"
        ) from None
