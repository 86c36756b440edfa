"""Save and restore the state of numba's NumPy-compatible random generator.

Compiled kernels that call ``np.random`` draw from numba's own Mersenne Twister
(one per thread), not NumPy's. ``numba._helperlib.rnd_get_state`` returns its
position and key but not the cached second Gaussian of the polar method, so the
whole C struct is read and written here (the layout of ``rnd_state_t`` in
numba's ``_random.c``: ``int index; unsigned mt[624]; int has_gauss; double
gauss; int is_initialized``). A Gibbs chain resumed from a checkpoint then draws
exactly the numbers it would have drawn.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from numba import _helperlib

MT_N = 624


class _RandomState(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int), ("mt", ctypes.c_uint * MT_N),
                ("has_gauss", ctypes.c_int), ("gauss", ctypes.c_double),
                ("is_initialized", ctypes.c_int)]


def _state() -> _RandomState:
    return _RandomState.from_address(_helperlib.rnd_get_np_state_ptr())


def get_state() -> dict[str, Any]:
    """The calling thread's numba generator state, as numbers and one uint32 array."""
    state = _state()
    return {"index": int(state.index), "mt": np.ctypeslib.as_array(state.mt).astype(np.int64),
            "has_gauss": int(state.has_gauss), "gauss": float(state.gauss),
            "is_initialized": int(state.is_initialized)}


def set_state(saved: dict[str, Any]) -> None:
    """Put the calling thread's numba generator back to ``saved`` (from :func:`get_state`)."""
    state = _state()
    state.index = int(saved["index"])
    np.ctypeslib.as_array(state.mt)[:] = np.asarray(saved["mt"]).astype(np.uint32)
    state.has_gauss = int(saved["has_gauss"])
    state.gauss = float(saved["gauss"])
    state.is_initialized = int(saved["is_initialized"])
