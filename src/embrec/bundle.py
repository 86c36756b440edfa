"""A trained model and the folder (bundle) that carries it to wherever it is used.

A bundle is a folder with:

* ``bundle.json``: format version, embrec version, model name and hyperparameters,
  training config and solver, the id maps, item titles/genres/years, the rating
  scale, the data provenance (name, fingerprint, split, seed), history and metrics;
* ``weights.safetensors``: the network's weights and the fallback biases;
* ``train.safetensors``: the training ratings (for excluding seen items and as
  the input rows of autoencoders);
* ``ranker.safetensors`` (optional): the ranking model that orders top-N lists
  (:mod:`embrec.models.rankers`), described under ``"ranker"`` in the manifest.

No pickle anywhere. Saving builds the folder under a temporary name and renames
it into place, so a crash leaves the old bundle intact. ``bundle.json`` records
the SHA-256 of both tensor files; loading checks them and everything else
before use (:mod:`embrec.bundle_check`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embrec.bundle_check import (
    check_folder,
    check_manifest_fields,
    check_tensor_files,
    check_train_arrays,
    check_weights,
    file_records,
    read_manifest,
)
from embrec.bundle_metrics import Metrics
from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.data.transform import RatingTransform
from embrec.device import resolve_device
from embrec.display import TableDisplay
from embrec.errors import BundleError, ConfigError, DataError, ModelError
from embrec.io import load_tensors, replace_dir_atomic, save_tensors, write_json_atomic
from embrec.models.rankers import Ranker, get_ranker
from embrec.models.registry import ModelConfig, get_spec
from embrec.predictor import Fallback, Predictor
from embrec.training.history import History
from embrec.training.solver import shape_of
from embrec.version import __version__

FORMAT_VERSION = 2
FALLBACK_PREFIX = "fallback."
RANKER_FILE = "ranker.safetensors"


def load_ranker(model_dir: Path, meta: Any) -> Ranker | None:
    """The bundle's ranking model, checked: a known name, finite arrays that fit its description."""
    if not meta:
        return None
    path = model_dir / RANKER_FILE
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise BundleError(f"{model_dir / 'bundle.json'}: field ranker should be an object with a "
                          "name; restore the bundle or retrain it")
    arrays = {k: v.numpy() for k, v in load_tensors(path).items()}
    for key, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise BundleError(f"{path}: tensor {key} holds non-finite values; retrain the bundle")
    try:
        return get_ranker(meta["name"]).load(arrays, meta)
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError, ConfigError) as error:
        raise BundleError(f"{path}: does not match the ranker described in bundle.json "
                          f"({type(error).__name__}: {error}); restore the bundle or retrain it"
                          ) from None


@dataclass
class Prediction:
    """Predicted ratings for raw (user, item) pairs, clipped to the scale.

    ``source`` says, per pair, what answered: ``model``, or ``baseline`` with the
    reason (``unknown user``, ``unknown item``, ``no training ratings``).
    """

    user_ids: list[Any]
    item_ids: list[Any]
    ratings: np.ndarray
    source: list[str]

    def to_records(self) -> list[dict[str, Any]]:
        return [
            {"user_id": u, "item_id": i, "rating": float(r), "source": s}
            for u, i, r, s in zip(self.user_ids, self.item_ids, self.ratings, self.source)
        ]


@dataclass(repr=False)
class TrainedModel(TableDisplay):
    """A fitted network with everything needed to predict for raw ids.

    Shown as its model, data and scores over the last epochs' table;
    ``to_pandas()`` is the full epoch history (one row per epoch).

    ``device`` is where its predictor scores (``cpu``, ``cuda``, ``cuda:N``,
    ``auto``): the network is copied there when first used; ``module`` itself
    stays on the CPU, and a saved bundle holds no device.
    """

    name: str
    model_config: ModelConfig
    module: torch.nn.Module
    train: Ratings
    fallback: Fallback
    train_config: dict[str, Any] = field(default_factory=dict)
    solver: str = "torch"
    history: History = field(default_factory=History)
    metrics: Metrics = field(default_factory=Metrics)
    provenance: dict[str, Any] = field(default_factory=dict)
    ranker: Ranker | None = None
    transform: RatingTransform = field(default_factory=RatingTransform)
    device: str = "cpu"
    _predictor: Predictor | None = field(default=None, repr=False)

    # -- identity -------------------------------------------------------------------

    @property
    def user_ids(self) -> IdMap:
        return self.train.user_ids

    @property
    def item_ids(self) -> IdMap:
        return self.train.item_ids

    @property
    def scale(self) -> RatingScale:
        return self.train.scale

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            self._predictor = Predictor(
                self.module, self.train, self.fallback, self.scale, self.transform,
                device=resolve_device(self.device),
            )
        return self._predictor

    @property
    def reference_train(self) -> Ratings:
        """The training ratings as the network saw them: on the reference scale of ``transform``."""
        return self.transform.forward_ratings(self.train)

    def titles(self, item_indices: np.ndarray) -> list[str]:
        return self.train.titles(item_indices)

    # -- display --------------------------------------------------------------------

    repr_rows = 6

    def headline(self) -> str:
        """Model, solver, data, epochs and test scores on one line."""
        text = (f"TrainedModel {self.name} (solver {self.solver}) on {self.train.name!r}: "
                f"{self.train.n_users:,} users, {self.train.n_items:,} items, "
                f"{len(self.train):,} ratings; {len(self.history.epochs)} epochs")
        if "test_rmse" in self.metrics:
            text += (f"; test RMSE {self.metrics['test_rmse']:.4f}, "
                     f"MAE {self.metrics['test_mae']:.4f}")
        preset = self.provenance.get("preset")
        if isinstance(preset, dict):
            text += f"; preset {preset.get('name')}"
        return text

    def to_pandas(self) -> pd.DataFrame:
        """The epoch history: one row per epoch (losses, RMSEs, seconds, throughput, lr)."""
        return self.history.to_pandas()

    def details(self) -> str:
        """The model's hyperparameters (cut at 300 characters)."""
        config = ", ".join(f"{k}={v}" for k, v in self.model_config.model_dump().items())
        return config[:300]

    # -- prediction -----------------------------------------------------------------

    def predict(self, user_ids: Any, item_ids: Any) -> Prediction:
        """Predicted ratings for raw ids (batch-first), clipped to the rating scale.

        Unknown ids never fail: they get the baseline prediction and ``source``
        says why.
        """
        user_list = list(np.atleast_1d(np.asarray(user_ids, dtype=object)))
        item_list = list(np.atleast_1d(np.asarray(item_ids, dtype=object)))
        if len(user_list) != len(item_list):
            raise ModelError(
                f"predict needs as many user ids as item ids ({len(user_list)} vs {len(item_list)})"
            )
        users = self.user_ids.indices_of(user_list)
        items = self.item_ids.indices_of(item_list)
        ratings, modelled = self.predictor.predict(users, items)
        source = []
        for u, i, ok in zip(users, items, modelled):
            if ok:
                source.append("model")
            elif u < 0:
                source.append("baseline: unknown user")
            elif i < 0:
                source.append("baseline: unknown item")
            else:
                source.append("baseline: no training ratings")
        return Prediction(user_list, item_list, ratings, source)

    # -- persistence ----------------------------------------------------------------

    def save(self, model_dir: str | Path) -> Path:
        """Write the bundle folder atomically; returns its path."""
        model_dir = Path(model_dir)
        weights = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        weights[FALLBACK_PREFIX + "user_bias"] = torch.from_numpy(self.fallback.user_bias)
        weights[FALLBACK_PREFIX + "item_bias"] = torch.from_numpy(self.fallback.item_bias)
        train_arrays = {
            "users": torch.from_numpy(self.train.users),
            "items": torch.from_numpy(self.train.items),
            "values": torch.from_numpy(self.train.values),
        }

        def fill(tmp: Path) -> None:
            save_tensors(tmp / "weights.safetensors", weights)
            save_tensors(tmp / "train.safetensors", train_arrays)
            if self.ranker is not None:
                arrays = {k: torch.from_numpy(v) for k, v in self.ranker.to_arrays().items()}
                save_tensors(tmp / RANKER_FILE, arrays)
            write_json_atomic(tmp / "bundle.json", self._manifest() | {"files": file_records(tmp)})

        replace_dir_atomic(model_dir, fill)
        return model_dir

    def _manifest(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "embrec_version": __version__,
            "model": {"name": self.name, "config": self.model_config.model_dump(mode="json")},
            "solver": self.solver,
            "train_config": self.train_config,
            "data": {
                "name": self.train.name,
                "n_users": self.train.n_users,
                "n_items": self.train.n_items,
                "n_train_ratings": len(self.train),
                "scale": self.scale.to_json(),
                "global_mean": self.fallback.global_mean,
                "transform": self.transform.to_json(),
                **self.provenance,
            },
            "user_ids": self.user_ids.to_json(),
            "item_ids": self.item_ids.to_json(),
            "item_info": _frame_to_json(self.train.item_info),
            "metrics": self.metrics,
            "history": self.history.to_json(),
            "ranker": None if self.ranker is None else self.ranker.describe(),
        }

    def to(self, device: str) -> TrainedModel:
        """Score on ``device`` from now on (checked: ``cuda`` needs a GPU torch sees); self."""
        resolve_device(device)
        self.device = device
        self._predictor = None
        return self

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "cpu") -> TrainedModel:
        """Read a bundle folder to score on ``device``; a missing, corrupt or newer bundle
        raises BundleError, a device torch cannot use a ConfigError."""
        resolve_device(device)
        model_dir = Path(model_dir)
        check_folder(model_dir)
        manifest_path = model_dir / "bundle.json"
        if not manifest_path.is_file() and not manifest_path.is_symlink():
            raise BundleError(f"{model_dir}: not a model bundle (no bundle.json); train one first")
        manifest = read_manifest(manifest_path)
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BundleError(f"{manifest_path}: no format_version; not an embrec bundle")
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{model_dir}: bundle format {version} is newer than this embrec "
                f"({__version__}, format {FORMAT_VERSION}); upgrade embrec to load it"
            )
        check_tensor_files(model_dir, manifest, version)
        sizes = check_manifest_fields(manifest, manifest_path)
        try:
            model = cls._from_manifest(model_dir, manifest, sizes)
        except BundleError:
            raise
        except Exception as error:
            raise BundleError(
                f"{model_dir}: bundle is corrupt or incomplete ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); retrain or restore it"
            ) from None
        return model.to(device)

    @classmethod
    def _from_manifest(
        cls, model_dir: Path, manifest: dict[str, Any], sizes: dict[str, int]
    ) -> TrainedModel:
        manifest_path = model_dir / "bundle.json"
        try:
            spec = get_spec(manifest["model"]["name"])
            model_config = spec.make_config(manifest["model"]["config"], stored=True)
        except ConfigError as error:
            raise BundleError(f"{manifest_path}: field model: {error}; retrain it") from None
        try:
            history = History.from_json(manifest.get("history", {}))
        except (TypeError, ValueError) as error:
            raise BundleError(f"{manifest_path}: field history: {error}") from None
        data = manifest["data"]
        weights = _read_tensors(model_dir / "weights.safetensors")
        arrays = _read_tensors(model_dir / "train.safetensors")
        check_train_arrays(arrays, sizes, model_dir / "train.safetensors")
        fallback_shapes = {
            FALLBACK_PREFIX + "user_bias": torch.empty(sizes["n_users"], dtype=torch.float32),
            FALLBACK_PREFIX + "item_bias": torch.empty(sizes["n_items"], dtype=torch.float32),
        }
        user_ids = IdMap.from_json(manifest["user_ids"])
        item_ids = IdMap.from_json(manifest["item_ids"])
        scale = RatingScale.from_json(data["scale"])
        train = Ratings(
            arrays["users"].numpy(),
            arrays["items"].numpy(),
            arrays["values"].numpy(),
            user_ids,
            item_ids,
            scale,
            item_info=_frame_from_json(manifest.get("item_info")),
            name=data.get("name", "ratings"),
        )
        try:
            transform = RatingTransform.from_json(data.get("transform"), "data.transform")
        except DataError as error:
            raise BundleError(f"{manifest_path}: {error}; retrain it") from None
        shape = shape_of(
            transform.forward_ratings(train), float(transform.forward(float(data["global_mean"])))
        )
        with torch.device("meta"):
            expected = spec.build(model_config, shape, False).state_dict()
        check_weights(weights, expected | fallback_shapes, model_dir / "weights.safetensors")
        fallback = Fallback(
            float(data["global_mean"]),
            weights.pop(FALLBACK_PREFIX + "user_bias").numpy(),
            weights.pop(FALLBACK_PREFIX + "item_bias").numpy(),
        )
        module = spec.build(model_config, shape, False)
        module.load_state_dict(weights, strict=True)
        module.eval()
        ranker = load_ranker(model_dir, manifest.get("ranker"))
        provenance = {
            k: v for k, v in data.items()
            if k not in {"name", "n_users", "n_items", "n_train_ratings", "scale", "global_mean",
                         "transform"}
        }
        solver = manifest.get("solver", "torch")  # bundles before the solver joined train_config
        return cls(
            name=spec.name,
            model_config=model_config,
            module=module,
            train=train,
            fallback=fallback,
            train_config={"solver": solver, **manifest.get("train_config", {})},
            solver=solver,
            history=history,
            metrics=Metrics(manifest.get("metrics", {})),
            provenance=provenance,
            ranker=ranker,
            transform=transform,
        )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file of the bundle; a damaged one is a :class:`BundleError` naming it."""
    try:
        return load_tensors(path)
    except Exception as error:  # safetensors raises its own error types for a bad header
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BundleError(f"{path}: not a readable safetensors file ({reason})") from None


def _frame_to_json(frame: pd.DataFrame | None) -> dict[str, list[Any]] | None:
    if frame is None:
        return None
    out: dict[str, list[Any]] = {"index": [int(i) for i in frame.index]}
    for column in frame.columns:
        values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
        out[str(column)] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def _frame_from_json(payload: dict[str, list[Any]] | None) -> pd.DataFrame | None:
    if not payload:
        return None
    columns = {k: v for k, v in payload.items() if k != "index"}
    frame = pd.DataFrame(columns, index=pd.Index(payload["index"]))
    if "year" in frame:
        frame["year"] = pd.array(frame["year"], dtype="Int64")
    return frame


def load(model_dir: str | Path, device: str = "cpu") -> TrainedModel:
    """Load a model bundle saved by :meth:`TrainedModel.save`, to score on ``device``.

    A bundle holds CPU tensors whatever it was trained on: one trained on a GPU
    loads on a machine without one.
    """
    return TrainedModel.load(model_dir, device)
