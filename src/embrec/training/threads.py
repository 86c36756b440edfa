"""How many torch intra-op threads a fit uses when the caller does not say.

Measured with ``benchmarks/threads.py`` (ml-100k u1, 80,000 training ratings,
the PyTorch loop, 3 epochs, 2 usable cores; median seconds per fit of 3, the
two thread counts interleaved run by run; the machine was shared with other
work, one-minute load average 5 to 10 throughout, so no run was on a quiet
machine)::

    machine                model     1 thread   2 threads
    as found (load 8-10)   mf-bias       1.21       28.41
    as found (load 5-8)    embnet        4.72       23.00
    + one neighbour        mf-bias       1.61       21.52
    + one neighbour        embnet        5.70      130.52

A second thread pays only when a core is free for it for the whole fit: every
intra-op barrier waits for the slowest thread, and a thread that the scheduler
parks behind other work stalls them all (single runs: 34 s on two threads
against 1.2 s on one, 132 s against 5.6 s). On small data a thread's share of an
operation is also too small to pay for the barrier. So the default is one thread below
``MIN_RATINGS_PER_EXTRA_THREAD`` training ratings, and above it one thread per
core that is free now, at most one per million ratings and at least one: the
cores this process may run on (``os.sched_getaffinity``) less the one-minute
load average, rounded. That errs on the side of fewer threads (this process's
own recent work counts as load): a missing thread costs at most its share,
a stalled one many times the fit.
The threshold is a judgement, not a measurement: no larger data set was at
hand, and on large data with idle cores more threads are expected to pay, as
they do for the compiled SGD solver (one numba thread per 200,000 ratings).
``--threads N`` (``threads=N``) overrides it.
"""

from __future__ import annotations

import math
import os

import torch

MIN_RATINGS_PER_EXTRA_THREAD = 1_000_000
"""Training ratings below which a fit uses one torch thread by default."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def free_cores(usable: int | None = None) -> int:
    """Usable cores not busy now: ``usable`` less the one-minute load average, rounded."""
    usable = usable_cores() if usable is None else usable
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return usable
    return max(0, usable - math.floor(load + 0.5))


def default_threads(n_ratings: int) -> int:
    """Torch threads for a fit on ``n_ratings`` training ratings (see the module docstring)."""
    if n_ratings < MIN_RATINGS_PER_EXTRA_THREAD:
        return 1
    usable = usable_cores()
    return max(1, min(usable, free_cores(usable), n_ratings // MIN_RATINGS_PER_EXTRA_THREAD))


def configure_threads(threads: int | None, n_ratings: int) -> int:
    """Set torch's intra-op threads: ``threads`` if given, else :func:`default_threads`."""
    chosen = max(1, threads) if threads else default_threads(n_ratings)
    torch.set_num_threads(chosen)
    return chosen
