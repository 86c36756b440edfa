"""Fitting many (configuration, fold) tasks on all cores.

A task fits one model on one fold (:class:`FoldTask`). With ``workers=1`` the
tasks run one after another in this process and torch uses every core for each
fit; with ``workers=W > 1`` they run in ``W`` worker processes (a ``forkserver``
context where the platform has one, else ``spawn``; never a plain fork of a
process whose torch thread pools are already running), each with one torch
thread. The ratings travel to each worker once, when it starts; every worker
draws its splits from the same specs and seed, so a fold is the same rows in
every process.

Which is faster depends on the solver (:func:`default_workers`, measured with
``benchmarks/parallel_cv.py``): workers for the PyTorch loop, one process for
the compiled solvers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embrec.data.ratings import Ratings
from embrec.device import resolve_device
from embrec.errors import ConfigError
from embrec.evaluation.fold import FoldResult, FoldTask, run_fold
from embrec.models.registry import get_spec
from embrec.training.fit import split_hyperparameters

if TYPE_CHECKING:
    from embrec.data.splits import Split


def check_request(model: str, hyper: dict[str, Any], solver: str | None) -> None:
    """Fail before any fitting when the model, solver or a hyperparameter is not valid."""

    spec = get_spec(model)
    chosen = solver or spec.solvers[0]
    if chosen not in spec.solvers:
        raise ConfigError(
            f"model {spec.name!r} has no solver {chosen!r}; choose one of {', '.join(spec.solvers)}"
        )
    split_hyperparameters(spec, hyper, chosen)
    resolve_device(hyper.get("device", "auto"))


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def solver_of(task: FoldTask) -> str:
    """The solver that will fit a task: the one asked for, else the model's default."""

    return task.solver or get_spec(task.model).solvers[0]


def trains_on_gpu(task: FoldTask) -> bool:
    """Whether a task's fit runs on a CUDA GPU (the torch solver, with a GPU there or asked for)."""
    return (solver_of(task) == "torch"
            and resolve_device(task.hyper.get("device", "auto")).type == "cuda")


def default_workers(tasks: Sequence[FoldTask]) -> int:
    """Worker processes for ``tasks`` when none are asked for.

    One per core (at most one per task) when a task is fitted by the PyTorch
    loop, else 1. Measured with ``benchmarks/parallel_cv.py`` (ml-100k, official
    folds u1..u5, 2 cores, median wall seconds, one process x 2 threads vs 2
    workers x 1 thread): on an idle machine embnet 11.1 vs 8.5, mf-bias with
    the torch solver 2.1 vs 2.5, mf-bias with its compiled SGD 0.6 vs 2.0. With
    the cores shared with other work (load average 8 to 10) a two-threaded
    torch process stalls at every intra-op barrier: embnet 772 vs 25, and one
    mf-bias torch fit on u1 took 10 to 191 s on two threads against 1.3 to 3.4 s
    on one. So torch fits go to single-threaded workers (a few tenths
    of a second lost on small torch models when the machine is idle), and the
    compiled solvers, whose folds take less time than a worker takes to start,
    stay in one process. Fits on a GPU stay in one process too: they share the one
    device, and each worker would hold a CUDA context of its own.
    """
    if not any(solver_of(task) == "torch" for task in tasks) or any(map(trains_on_gpu, tasks)):
        return 1
    return max(1, min(cpu_count(), len(tasks)))


class SplitCache:
    """The splits of one ratings table by spec, drawn once each."""

    def __init__(self, ratings: Ratings, data_dir: str | Path | None, seed: int) -> None:
        self.ratings = ratings
        self.data_dir = data_dir
        self.seed = seed
        self._splits: dict[str, Split] = {}

    def __getitem__(self, spec: str) -> Split:
        if spec not in self._splits:
            from embrec.data.splits import make_split

            self._splits[spec] = make_split(
                self.ratings, spec, data_dir=self.data_dir, seed=self.seed
            )
        return self._splits[spec]


_WORKER_SPLITS: list[SplitCache] = []


def _init_worker(ratings: Ratings, data_dir: str | Path | None, seed: int) -> None:
    import torch

    torch.set_num_threads(1)
    _WORKER_SPLITS.append(SplitCache(ratings, data_dir, seed))


def _one_thread(task: FoldTask) -> FoldTask:
    if task.hyper.get("threads") is not None:
        return task
    return replace(task, hyper={**task.hyper, "threads": 1})


def _run_in_worker(task: FoldTask) -> dict[str, Any]:

    splits = _WORKER_SPLITS[-1]
    return run_fold(splits.ratings, splits[task.fold], _one_thread(task)).to_json()


def pool_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` (torch imported once in the server) where available, else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["embrec.evaluation.crossval", "embrec.training.fit"])
        return context
    return multiprocessing.get_context("spawn")


def resolve_workers(workers: int | None, tasks: Sequence[FoldTask]) -> int:
    """The worker processes to use: ``workers`` (at most one per task), or the default."""
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    if workers is None:
        return default_workers(tasks)
    return max(1, min(workers, len(tasks)))


def run_tasks(
    ratings: Ratings,
    tasks: Sequence[FoldTask],
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> Iterator[tuple[int, FoldResult]]:
    """Run the tasks; yields ``(task index, result)`` as each one finishes.

    ``workers`` as for :func:`resolve_workers`. The splits are drawn from
    ``ratings`` by spec with ``seed`` (and the fold files in ``data_dir``).
    Stopping the iteration early cancels the tasks not yet started.
    """

    if not tasks:
        return
    count = resolve_workers(workers, tasks)
    if count == 1:
        splits = SplitCache(ratings, data_dir, seed)
        for index, task in enumerate(tasks):
            yield index, run_fold(ratings, splits[task.fold], task)
        return
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=pool_context(),
        initializer=_init_worker,
        initargs=(ratings, data_dir, seed),
    )
    try:
        pending: dict[Future, int] = {
            pool.submit(_run_in_worker, task): index for index, task in enumerate(tasks)
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                yield index, FoldResult.from_json(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
