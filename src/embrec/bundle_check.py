"""Checks a bundle folder passes before any of it is used: files, checksums, JSON, tensors.

A bundle may come from anywhere (a colleague, a download, a damaged disk), so
:func:`embrec.bundle.TrainedModel.load` trusts none of it:

* **files**: the folder is a real folder, not a symlink, and each file is a
  regular file inside it (a symlink is refused: it could read weights from
  outside the bundle); ``bundle.json`` is at most ``MANIFEST_MAX_BYTES`` and the
  safetensors files at most ``TENSORS_MAX_BYTES``;
* **checksums**: format 2 records the SHA-256 and size of every tensor file in
  ``bundle.json["files"]`` at save; a mismatch is refused. Format 1 bundles
  (saved before checksums existed) load with every other check; saving one
  again (``embrec.load(path).save(path)``) adds them;
* **JSON**: nesting at most ``MAX_JSON_DEPTH`` deep; every field the loader
  reads has the expected type, and the id maps and item table the sizes the
  data section declares;
* **tensors**: every tensor's dtype and shape against the model the config
  builds; training indices inside ``[0, n_users)`` and ``[0, n_items)``;
  every float tensor finite (NaN or infinite weights would serve the same
  list at a constant score to everyone).

Every refusal is a :class:`~embrec.errors.BundleError` of one line naming the
file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import torch

from embrec.errors import BundleError

MANIFEST_MAX_BYTES = 512 << 20
TENSORS_MAX_BYTES = 64 << 30
MAX_JSON_DEPTH = 32
TENSOR_FILES = ("weights.safetensors", "train.safetensors")
OPTIONAL_TENSOR_FILES = ("ranker.safetensors",)
"""Tensor files a bundle may hold (the ranking model); recorded and checked when present."""
HASH_BLOCK = 1 << 22


def check_folder(model_dir: Path) -> None:
    """The bundle folder is a real folder (a symlinked folder is refused, naming its target)."""
    if model_dir.is_symlink():
        raise BundleError(
            f"{model_dir}: the bundle folder is a symlink to {os.readlink(model_dir)}; "
            "give the real folder's path"
        )
    if not model_dir.is_dir():
        raise BundleError(f"{model_dir}: not a model bundle (no such folder); train one first")


def check_file(path: Path, max_bytes: int) -> int:
    """``path`` is a regular file of the bundle, not a link, at most ``max_bytes``; its size."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise BundleError(f"{path}: missing from the bundle; retrain or restore it") from None
    if stat.S_ISLNK(info.st_mode):
        raise BundleError(
            f"{path}: is a symlink (to {os.readlink(path)}); a bundle holds its own files, "
            "copy the file into the folder instead"
        )
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{path}: not a regular file; retrain or restore the bundle")
    if info.st_size > max_bytes:
        raise BundleError(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} allowed")
    return info.st_size


def read_manifest(path: Path) -> dict[str, Any]:
    """``bundle.json`` parsed, bounded in size and depth; a JSON object."""
    check_file(path, MANIFEST_MAX_BYTES)
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        manifest = None
        depth_exceeded = True
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: corrupt bundle manifest ({error})") from None
    else:
        depth_exceeded = json_depth(manifest) > MAX_JSON_DEPTH
    if depth_exceeded:
        raise BundleError(f"{path}: JSON nested more than {MAX_JSON_DEPTH} deep; not a bundle")
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: the manifest is not a JSON object; not an embrec bundle")
    return manifest


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth + 1)
            if depth + 1 <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in node)
    return deepest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256", "bytes"}}`` of the tensor files, for ``bundle.json["files"]``."""
    names = TENSOR_FILES + tuple(n for n in OPTIONAL_TENSOR_FILES if (folder / n).exists())
    return {
        name: {"sha256": sha256_of(folder / name), "bytes": (folder / name).stat().st_size}
        for name in names
    }


def check_tensor_files(model_dir: Path, manifest: dict[str, Any], version: int) -> None:
    """Each tensor file is a regular file of the bundle with the recorded size and SHA-256."""
    manifest_path = model_dir / "bundle.json"
    records = manifest.get("files")
    if version >= 2 or records is not None:
        records = field(records, dict, manifest_path, "files")
    optional = tuple(n for n in OPTIONAL_TENSOR_FILES
                     if manifest.get("ranker") or (records is not None and n in records))
    for name in TENSOR_FILES + optional:
        path = model_dir / name
        size = check_file(path, TENSORS_MAX_BYTES)
        if records is None:
            continue
        record = field(records.get(name), dict, manifest_path, f"files.{name}")
        expected = field(record.get("sha256"), str, manifest_path, f"files.{name}.sha256")
        recorded = field(record.get("bytes"), int, manifest_path, f"files.{name}.bytes")
        if size != recorded or sha256_of(path) != expected:
            raise BundleError(
                f"{path}: does not match the SHA-256 recorded in bundle.json at save (damaged "
                "or modified since); restore the bundle from its source or retrain it"
            )


def field(value: Any, kind: type | tuple[type, ...], path: Path, name: str) -> Any:
    """``value`` when it is a ``kind`` (bool is not an int here), else a :class:`BundleError`."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        wanted = " or ".join(JSON_NAMES.get(k, k.__name__) for k in kinds)
        raise BundleError(
            f"{path}: field {name} should be {wanted}, found {describe_json(value)}; "
            "restore the bundle or retrain it"
        )
    return value


JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
              float: "a number", bool: "true or false", type(None): "null"}


def describe_json(value: Any) -> str:
    if value is None:
        return "null (or nothing)"
    text = json.dumps(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def count(value: Any, path: Path, name: str) -> int:
    number = field(value, int, path, name)
    if number < 0:
        raise BundleError(f"{path}: field {name} is {number}, should be a count (>= 0)")
    return number


def finite_number(value: Any, path: Path, name: str) -> float:
    number = float(field(value, (int, float), path, name))
    if not math.isfinite(number):
        raise BundleError(f"{path}: field {name} is {number}, should be a finite number")
    return number


def check_manifest_fields(manifest: dict[str, Any], path: Path) -> dict[str, int]:
    """Types and sizes of every field the loader reads; returns the declared sizes."""
    model = field(manifest.get("model"), dict, path, "model")
    field(model.get("name"), str, path, "model.name")
    field(model.get("config"), dict, path, "model.config")
    field(manifest.get("solver", "torch"), str, path, "solver")
    for name in ("train_config", "metrics", "history"):
        field(manifest.get(name, {}), dict, path, name)
    field(manifest["history"].get("epochs", []) if "history" in manifest else [], list, path,
          "history.epochs")
    data = field(manifest.get("data"), dict, path, "data")
    sizes = {key: count(data.get(key), path, f"data.{key}")
             for key in ("n_users", "n_items", "n_train_ratings")}
    finite_number(data.get("global_mean"), path, "data.global_mean")
    scale = field(data.get("scale"), dict, path, "data.scale")
    low = finite_number(scale.get("low"), path, "data.scale.low")
    high = finite_number(scale.get("high"), path, "data.scale.high")
    if scale.get("step") is not None:
        finite_number(scale["step"], path, "data.scale.step")
    if not low < high:
        raise BundleError(f"{path}: field data.scale has low {low:g} >= high {high:g}")
    field(data.get("name", "ratings"), str, path, "data.name")
    for key, size in (("user_ids", sizes["n_users"]), ("item_ids", sizes["n_items"])):
        check_id_map(manifest.get(key), size, path, key)
    check_item_info(manifest.get("item_info"), sizes["n_items"], path)
    return sizes


def check_id_map(payload: Any, size: int, path: Path, name: str) -> None:
    payload = field(payload, dict, path, name)
    kind = payload.get("kind")
    if kind not in ("int", "str"):
        raise BundleError(f"{path}: field {name}.kind is {kind!r}, should be 'int' or 'str'")
    ids = field(payload.get("ids"), list, path, f"{name}.ids")
    if len(ids) != size:
        raise BundleError(
            f"{path}: field {name}.ids has {len(ids):,} ids, data.n_{name[:-4]}s says {size:,}"
        )
    wanted = int if kind == "int" else str
    for position, raw in enumerate(ids):
        if not isinstance(raw, wanted) or isinstance(raw, bool):
            field(raw, wanted, path, f"{name}.ids[{position}]")
    if len(set(ids)) != len(ids):
        raise BundleError(f"{path}: field {name}.ids repeats an id; restore or retrain the bundle")


def check_item_info(payload: Any, n_items: int, path: Path) -> None:
    if payload is None:
        return
    payload = field(payload, dict, path, "item_info")
    index = field(payload.get("index"), list, path, "item_info.index")
    for position, value in enumerate(index):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n_items:
            raise BundleError(
                f"{path}: field item_info.index[{position}] is {describe_json(value)}, "
                f"should be an item index in 0..{n_items - 1}"
            )
    for column, values in payload.items():
        values = field(values, list, path, f"item_info.{column}")
        if len(values) != len(index):
            raise BundleError(
                f"{path}: field item_info.{column} has {len(values):,} values for "
                f"{len(index):,} items"
            )
        for position, value in enumerate(values):
            if isinstance(value, (dict, list)):
                field(value, (str, int, float, type(None)), path,
                      f"item_info.{column}[{position}]")


def check_train_arrays(
    arrays: dict[str, torch.Tensor], sizes: dict[str, int], path: Path
) -> None:
    """``users``, ``items`` (integer indices in range) and ``values`` (finite), one per rating."""
    expected = {"users": sizes["n_users"], "items": sizes["n_items"], "values": None}
    check_names(arrays, set(expected), path)
    for name, bound in expected.items():
        tensor = arrays[name]
        if tensor.shape != (sizes["n_train_ratings"],):
            raise BundleError(
                f"{path}: tensor {name} has shape {tuple(tensor.shape)}, data.n_train_ratings "
                f"says ({sizes['n_train_ratings']},)"
            )
        if bound is None:
            check_float(tensor, path, name)
            continue
        if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
            raise BundleError(f"{path}: tensor {name} has dtype {tensor.dtype}, should be integer")
        if tensor.numel():
            low, high = int(tensor.min()), int(tensor.max())
            if low < 0 or high >= bound:
                bad = low if low < 0 else high
                raise BundleError(
                    f"{path}: tensor {name} holds index {bad}, outside 0..{bound - 1} "
                    f"(data.n_{name})"
                )


def check_weights(
    weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path
) -> None:
    """Every tensor the model needs, with its shape and dtype, finite; nothing else."""
    check_names(weights, set(expected), path)
    for name, want in expected.items():
        tensor = weights[name]
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            raise BundleError(
                f"{path}: tensor {name} is {tensor.dtype} {tuple(tensor.shape)}, the model in "
                f"bundle.json needs {want.dtype} {tuple(want.shape)}"
            )
        if tensor.dtype.is_floating_point:
            check_float(tensor, path, name)


def check_names(tensors: dict[str, torch.Tensor], expected: set[str], path: Path) -> None:
    missing = sorted(expected - set(tensors))
    if missing:
        raise BundleError(f"{path}: tensor {missing[0]} is missing; restore or retrain the bundle")
    extra = sorted(set(tensors) - expected)
    if extra:
        raise BundleError(f"{path}: unexpected tensor {extra[0]}; restore or retrain the bundle")


def check_float(tensor: torch.Tensor, path: Path, name: str) -> None:
    if not tensor.dtype.is_floating_point:
        raise BundleError(f"{path}: tensor {name} has dtype {tensor.dtype}, should be float")
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        where = tuple(int(i) for i in (~finite).nonzero()[0])
        raise BundleError(
            f"{path}: tensor {name} holds {int((~finite).sum()):,} non-finite values (first at "
            f"{where}, {float(tensor[where]):g}); the model diverged or the file was damaged: "
            "retrain it"
        )
