"""The default torch thread count: one on small data, the free cores on large data."""

from __future__ import annotations

import os

import pytest
import torch

from embrec.data.synthetic import generate_ratings
from embrec.training import threads
from embrec.training.fit import fit


@pytest.fixture
def machine(monkeypatch):
    """Pretend to run on ``cores`` usable cores at one-minute load ``load``."""

    def set_machine(cores: int, load: float) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))

    return set_machine


@pytest.fixture(autouse=True)
def restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "load", "n_ratings", "expected"), [
    (2, 0.0, 80_000, 1),        # ml-100k u1: one thread even on an idle machine
    (2, 0.0, 5_000_000, 2),     # large data, both cores free
    (2, 0.6, 5_000_000, 1),     # one core busy: a second thread would stall the first
    (2, 9.0, 25_000_000, 1),    # a crowded machine
    (16, 3.2, 25_000_000, 13),  # free cores, not all cores
    (16, 0.0, 3_000_000, 3),    # no more threads than millions of ratings
])
def test_default_threads(machine, cores, load, n_ratings, expected):
    machine(cores, load)
    assert threads.default_threads(n_ratings) == expected


def test_the_affinity_mask_bounds_the_cores(machine):
    machine(3, 0.0)
    assert threads.usable_cores() == 3
    assert threads.free_cores() == 3


def test_a_fit_without_threads_runs_on_one_thread_on_small_data(machine):
    machine(2, 0.0)
    torch.set_num_threads(2)
    fit(generate_ratings(50, 40, 800, seed=1), "mf-bias", solver="torch", epochs=1)
    assert torch.get_num_threads() == 1


def test_threads_given_are_used(machine):
    machine(2, 9.0)
    fit(generate_ratings(50, 40, 800, seed=1), "mf-bias", solver="torch", epochs=1, threads=2)
    assert torch.get_num_threads() == 2
