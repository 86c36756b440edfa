"""How many threads the compiled (numba) kernels' parallel loops use."""

from __future__ import annotations

import numba


def set_threads(threads: int) -> int:
    """Use ``threads`` numba threads (at most the pool's size); returns the previous count."""
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return previous
