"""Which torch device a network trains or scores on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

``auto`` is a CUDA GPU when torch sees one (``torch.cuda.is_available()``), else
the CPU. Asking for ``cuda`` where torch sees none is a one-line
:class:`~embrec.errors.ConfigError` saying what to install: the pinned torch is
the CPU build, which never sees a GPU.
"""

from __future__ import annotations

import re

import torch

from embrec.errors import ConfigError

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
"""The device names embrec accepts."""

CUDA_INDEX_URL = "https://download.pytorch.org/whl/cu126"
CUDA_HINT = (
    "install the CUDA build of torch instead of the pinned CPU build (pip install torch "
    f"--index-url {CUDA_INDEX_URL}, the same version) on a machine with an NVIDIA GPU, "
    "or use --device cpu"
)


def check_device_name(device: str) -> str:
    """``device`` itself when it is a name embrec accepts, else a ConfigError."""
    if not isinstance(device, str) or not DEVICE_PATTERN.fullmatch(device):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, not {device!r}")
    return device


def cuda_visible() -> bool:
    """Whether torch sees a CUDA GPU."""
    return torch.cuda.is_available()


def resolve_device(device: str) -> torch.device:
    """``auto`` -> the first CUDA GPU when torch sees one, else the CPU; ``cuda`` checked."""
    check_device_name(device)
    if device == "auto":
        return torch.device("cuda:0" if cuda_visible() else "cpu")
    if device.startswith("cuda"):
        if not cuda_visible():
            raise ConfigError(
                f"--device {device}: no CUDA GPU is visible to torch "
                f"(torch.cuda.is_available() is False); {CUDA_HINT}"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {device}: torch sees {torch.cuda.device_count()} CUDA GPU(s), "
                f"numbered from 0; choose one of them"
            )
        return torch.device("cuda", index)
    return torch.device(device)


def device_name(device: torch.device) -> str:
    """``cpu`` or ``cuda:N``: the name a config records for a resolved device."""
    if device.type == "cuda":
        return f"cuda:{device.index or 0}"
    return device.type


def describe_device(device: torch.device) -> str:
    """The device in words, for a benchmark's or a log's header (``cuda:0 (NVIDIA H100 ...)``)."""
    if device.type == "cuda":
        return f"{device_name(device)} ({torch.cuda.get_device_name(device)})"
    return "cpu"
