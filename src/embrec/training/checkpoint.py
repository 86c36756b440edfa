"""Per-epoch checkpoints so that ``--resume`` continues an interrupted run exactly.

A checkpoint is a folder with ``state.safetensors`` (weights, optimiser moments,
random generator state) and ``state.json`` (everything else, tensors replaced by
references), swapped into place atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embrec.errors import BundleError
from embrec.io import (
    flatten_state,
    load_tensors,
    replace_dir_atomic,
    save_tensors,
    unflatten_state,
    write_json_atomic,
)


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    tensors: dict = {}
    flat = flatten_state(state, tensors)

    def fill(tmp: Path) -> None:
        save_tensors(tmp / "state.safetensors", tensors)
        write_json_atomic(tmp / "state.json", flat)

    replace_dir_atomic(Path(folder), fill)


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    folder = Path(folder)
    if not (folder / "state.json").is_file():
        return None
    try:
        flat = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        tensors = load_tensors(folder / "state.safetensors")
        return unflatten_state(flat, tensors)
    except Exception as error:
        raise BundleError(
            f"{folder}: checkpoint is unreadable ({type(error).__name__}); "
            "delete the folder to start over"
        ) from None
