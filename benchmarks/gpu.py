"""Training throughput on a GPU (or the CPU): embrec's training loop against a plain-PyTorch loop.

    PYTHONPATH=src python benchmarks/gpu.py                  # Netflix shapes, --device auto
    PYTHONPATH=src python benchmarks/gpu.py --small          # shapes shrunk, minutes on a CPU
    PYTHONPATH=src python benchmarks/gpu.py --only embnet --epochs 5 --device cuda:1

Each workload trains the same model on the same synthetic ratings twice, in one run:
through ``embrec.fit`` (the one training loop and its torch solver, as ``embrec train``
runs it) and through a reference loop written here in plain PyTorch (tensors on the
device, a permutation per epoch, slices as batches). Both train for the same epochs
with the same optimiser, batch, rate and a constant schedule; the table gives seconds
per epoch (the mean of the epochs after the first, which pays for warm-up), ratings per
second, embrec's share of the reference's speed, and the held-out RMSE after those
epochs (predictions clipped to 1..5).

=================  ==========================================  =====================
workload           model                                       reference loop
=================  ==========================================  =====================
mf-bias sgd        mu + b_u + b_i + p_u.q_i, 64 factors,       gradients written by
                   momentum SGD, batch 4,194,304               hand, index_add_
mf-bias adamw      the same, AdamW, batch 262,144              autograd, fused AdamW
embnet             50+50 -> 100 -> 50 -> 1 (dropout), biases,  autograd, fused AdamW
                   sigmoid range, AdamW, batch 262,144
deep-ae b1024      4,499-512-256-64-256-512-4,499 (ReLU,       autograd, fused Adam
                   dropout 0.1 on the code), Adam, batch 1,024
deep-ae b128       the same, batch 128; 30 epochs are timed    autograd, fused Adam
                   with --ae-epochs 30, else extrapolated
=================  ==========================================  =====================

Data: the pair models train on 100,480,507 ratings of 480,189 users x 17,770 items (the
Netflix Prize shapes), the autoencoder on 24,050,000 ratings of 470,758 users x 4,499
items; ``--small`` divides ratings, users and pair batches by 100 and items by 10 (the
autoencoder's row batches stay). Ratings are drawn from a low-rank-plus-noise model::

    r_ui = clip(round(3.6 + b_u + b_i + p_u . q_i + e_ui), 1, 5)
    b_u ~ N(0, 0.4^2), b_i ~ N(0, 0.5^2), p_u, q_i ~ N(0, s^2 I_8) with Var(p_u . q_i) = 0.6^2,
    e_ui ~ N(0, 0.9^2)

over distinct (user, item) pairs drawn with Zipf-like activity and popularity; 1% of
them are held out. The run prints the device, torch's version and the load average.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.device import describe_device, device_name, resolve_device
from embrec.training.fit import fit

NETFLIX = (100_480_507, 480_189, 17_770)
AUTOENCODER = (24_050_000, 470_758, 4_499)
SMALL = {"ratings": 100, "users": 100, "items": 10, "pair_batch": 100}
TEST_SHARE = 0.01
CHUNK = 1 << 20
LOW, HIGH = 1.0, 5.0


# -- data ---------------------------------------------------------------------------------


@dataclass
class Data:
    """Train and test pairs as numpy arrays, and their shapes."""

    n_users: int
    n_items: int
    train: tuple[np.ndarray, np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray, np.ndarray]
    seconds: float = 0.0

    def ratings(self, part: tuple[np.ndarray, np.ndarray, np.ndarray], users: IdMap,
                items: IdMap) -> Ratings:
        return Ratings(part[0], part[1], part[2], users, items, RatingScale(LOW, HIGH, 1.0),
                       name="synthetic")


def zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = rng.permutation(np.arange(1, n + 1, dtype=np.float64) ** -exponent)
    return weights / weights.sum()


def synthetic(n_ratings: int, n_users: int, n_items: int, seed: int = 0, rank: int = 8) -> Data:
    """Distinct pairs with skewed activity and popularity, rated by the low-rank model."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    user_weights, item_weights = zipf_weights(n_users, 0.5, rng), zipf_weights(n_items, 0.8, rng)
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < n_ratings:
        draw = int((n_ratings - len(keys)) * 1.2) + 1000
        users = rng.choice(n_users, draw, p=user_weights).astype(np.int64)
        items = rng.choice(n_items, draw, p=item_weights).astype(np.int64)
        keys = np.unique(np.concatenate([keys, users * n_items + items]))
    keys = rng.permutation(keys)[:n_ratings]
    users, items = (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)
    del keys
    scale = (0.6**2 / rank) ** 0.25
    p = rng.normal(0, scale, (n_users, rank)).astype(np.float32)
    q = rng.normal(0, scale, (n_items, rank)).astype(np.float32)
    b_user = rng.normal(0, 0.4, n_users).astype(np.float32)
    b_item = rng.normal(0, 0.5, n_items).astype(np.float32)
    values = np.empty(n_ratings, dtype=np.float32)
    for start in range(0, n_ratings, 1 << 23):
        u, i = users[start : start + (1 << 23)], items[start : start + (1 << 23)]
        r = 3.6 + b_user[u] + b_item[i] + np.einsum("nk,nk->n", p[u], q[i])
        r += rng.normal(0, 0.9, len(u)).astype(np.float32)
        values[start : start + len(u)] = np.clip(np.round(r), LOW, HIGH)
    n_test = max(1, int(n_ratings * TEST_SHARE))
    test = (users[:n_test], items[:n_test], values[:n_test])
    train = (users[n_test:], items[n_test:], values[n_test:])
    return Data(n_users, n_items, train, test, time.perf_counter() - started)


# -- the reference loops --------------------------------------------------------------------


@dataclass
class Run:
    """One side of a workload: seconds of each epoch and the held-out RMSE at the end."""

    epoch_seconds: list[float] = field(default_factory=list)
    rmse: float = math.nan

    @property
    def steady(self) -> float:
        """Seconds per epoch: the mean of the epochs after the first (the only one if alone)."""
        later = self.epoch_seconds[1:] or self.epoch_seconds
        return sum(later) / len(later)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def held_out_rmse(predictions: torch.Tensor, values: torch.Tensor) -> float:
    clipped = predictions.clamp(LOW, HIGH)
    return float(torch.sqrt(((clipped - values) ** 2).mean()))


def tensors(part: tuple[np.ndarray, ...], device: torch.device) -> list[torch.Tensor]:
    users, items, values = part
    return [torch.from_numpy(users.astype(np.int64)).to(device),
            torch.from_numpy(items.astype(np.int64)).to(device),
            torch.from_numpy(values).to(device)]


def reference_mf_sgd(data: Data, device: torch.device, epochs: int, batch: int, lr: float,
                     factors: int = 64, momentum: float = 0.9) -> Run:
    """``mu + b_u + b_i + p_u.q_i``, mean squared error, momentum SGD, gradients by hand.

    For a batch of B ratings with error ``e = r_hat - r``: ``dL/dp_u = (2/B) sum e q_i``
    over the batch's ratings of u (``index_add_``), likewise for ``q_i``, ``b_u``, ``b_i``;
    then ``v = momentum v + g`` and ``w -= lr v`` (torch's SGD).
    """
    users, items, values = tensors(data.train, device)
    generator = torch.Generator(device=device).manual_seed(0)
    p = torch.randn(data.n_users, factors, device=device, generator=generator) * 0.01
    q = torch.randn(data.n_items, factors, device=device, generator=generator) * 0.01
    b_user = torch.zeros(data.n_users, device=device)
    b_item = torch.zeros(data.n_items, device=device)
    mean = values.mean()
    weights = [p, q, b_user, b_item]
    velocity = [torch.zeros_like(w) for w in weights]
    run = Run()
    for _ in range(epochs):
        synchronize(device)
        started = time.perf_counter()
        order = torch.randperm(len(values), device=device, generator=generator)
        u_all, i_all, r_all = users[order], items[order], values[order]
        for start in range(0, len(order), batch):
            u, i, r = (t[start : start + batch] for t in (u_all, i_all, r_all))
            pu, qi = p[u], q[i]
            error = mean + b_user[u] + b_item[i] + (pu * qi).sum(1) - r
            g = error * (2.0 / len(r))
            grads = [torch.zeros_like(p).index_add_(0, u, g[:, None] * qi),
                     torch.zeros_like(q).index_add_(0, i, g[:, None] * pu),
                     torch.zeros_like(b_user).index_add_(0, u, g),
                     torch.zeros_like(b_item).index_add_(0, i, g)]
            for weight, v, grad in zip(weights, velocity, grads):
                v.mul_(momentum).add_(grad)  # the first step: v = g, as torch's SGD
                weight.sub_(lr * v)
        synchronize(device)
        run.epoch_seconds.append(time.perf_counter() - started)
    tu, ti, tr = tensors(data.test, device)
    run.rmse = held_out_rmse(mean + b_user[tu] + b_item[ti] + (p[tu] * q[ti]).sum(1), tr)
    return run


def add_tables(module: nn.Module, n_users: int, n_items: int, factors: int) -> None:
    """User and item factors ``p``, ``q`` (normal, std 0.01) and biases (zeros) on ``module``."""
    module.p, module.q = nn.Embedding(n_users, factors), nn.Embedding(n_items, factors)
    nn.init.normal_(module.p.weight, std=0.01)
    nn.init.normal_(module.q.weight, std=0.01)
    module.b_user, module.b_item = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
    nn.init.zeros_(module.b_user.weight)
    nn.init.zeros_(module.b_item.weight)


class DotBias(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int, mean: float) -> None:
        super().__init__()
        add_tables(self, n_users, n_items, factors)
        self.mean = mean

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        dot = (self.p(u) * self.q(i)).sum(1)
        return self.mean + self.b_user(u).squeeze(1) + self.b_item(i).squeeze(1) + dot


class EmbeddingMLP(nn.Module):
    """Embeddings concatenated into an MLP, plus biases, squashed into (0.5, 5.5)."""

    def __init__(self, n_users: int, n_items: int, factors: int = 50,
                 layers: tuple[int, ...] = (100, 50), dropout: float = 0.3,
                 emb_dropout: float = 0.05) -> None:
        super().__init__()
        add_tables(self, n_users, n_items, factors)
        blocks: list[nn.Module] = [nn.Dropout(emb_dropout)]
        width = 2 * factors
        for hidden in layers:
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.mlp = nn.Sequential(*blocks, nn.Linear(width, 1))

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        z = self.mlp(torch.cat([self.p(u), self.q(i)], 1)).squeeze(1)
        z = z + self.b_user(u).squeeze(1) + self.b_item(i).squeeze(1)
        return torch.sigmoid(z) * (HIGH - LOW + 1.0) + LOW - 0.5


def reference_pairs(network: nn.Module, data: Data, device: torch.device, epochs: int,
                    batch: int, lr: float, weight_decay: float) -> Run:
    """Autograd and fused AdamW (where the device has it) over batches of ratings."""
    users, items, values = tensors(data.train, device)
    network = network.to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=device.type == "cuda" or None)
    generator = torch.Generator(device=device).manual_seed(0)
    run = Run()
    for _ in range(epochs):
        network.train()
        synchronize(device)
        started = time.perf_counter()
        order = torch.randperm(len(values), device=device, generator=generator)
        u_all, i_all, r_all = users[order], items[order], values[order]
        for start in range(0, len(order), batch):
            u, i, r = (t[start : start + batch] for t in (u_all, i_all, r_all))
            loss = nn.functional.mse_loss(network(u, i), r)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        run.epoch_seconds.append(time.perf_counter() - started)
    network.eval()
    tu, ti, tr = tensors(data.test, device)
    with torch.no_grad():
        predictions = torch.cat([network(tu[s : s + CHUNK], ti[s : s + CHUNK])
                                 for s in range(0, len(tu), CHUNK)])
    run.rmse = held_out_rmse(predictions, tr)
    return run


def deep_autoencoder(n_items: int, mean: float, layers: tuple[int, ...] = (512, 256, 64),
                     dropout: float = 0.1) -> nn.Module:
    """The encoder, dropout on the code, the mirrored decoder; outputs start at the mean rating."""
    widths = [n_items, *layers]
    encoder: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        encoder += [nn.Linear(a, b), nn.ReLU()]
    decoder: list[nn.Module] = []
    reverse = widths[::-1]
    for index, (a, b) in enumerate(zip(reverse[:-1], reverse[1:])):
        decoder += [nn.Linear(a, b)] + ([nn.ReLU()] if index < len(reverse) - 2 else [])
    with torch.no_grad():
        decoder[-1].bias.fill_(mean)
    return nn.Sequential(*encoder, nn.Dropout(dropout), *decoder)


def reference_rows(data: Data, device: torch.device, epochs: int, batch: int,
                   lr: float) -> Run:
    """Masked mean squared error over the observed entries of user rows, Adam.

    The rating matrix is held on the device as CSR arrays; a batch of rows is
    densified there by gathering each row's slice of ``indices``/``data``.
    """
    users, items, values = data.train
    order = np.argsort(users, kind="stable")
    counts = np.bincount(users, minlength=data.n_users)
    indptr = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)])).to(device)
    columns = torch.from_numpy(items[order].astype(np.int64)).to(device)
    ratings = torch.from_numpy(values[order]).to(device)
    lengths = torch.from_numpy(counts.astype(np.int64)).to(device)
    rated = torch.from_numpy(np.flatnonzero(counts)).to(device)

    def dense(rows: torch.Tensor, n_entries: int) -> tuple[torch.Tensor, torch.Tensor]:
        row_length = lengths[rows]
        owner = torch.repeat_interleave(torch.arange(len(rows), device=device), row_length,
                                        output_size=n_entries)
        first = torch.cumsum(row_length, 0) - row_length
        entry = indptr[rows][owner] + torch.arange(n_entries, device=device) - first[owner]
        block = torch.zeros(len(rows), data.n_items, device=device)
        mask = torch.zeros_like(block)
        block[owner, columns[entry]] = ratings[entry]
        mask[owner, columns[entry]] = 1.0
        return block, mask

    network = deep_autoencoder(data.n_items, float(values.mean())).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr,
                                 fused=device.type == "cuda" or None)
    generator = torch.Generator(device=device).manual_seed(0)
    run = Run()
    for _ in range(epochs):
        network.train()
        synchronize(device)
        started = time.perf_counter()
        shuffled = rated[torch.randperm(len(rated), device=device, generator=generator)]
        ends = torch.cumsum(lengths[shuffled], 0)
        last = (torch.arange(1, -(-len(shuffled) // batch) + 1, device=device) * batch
                ).clamp(max=len(shuffled)) - 1
        sizes = torch.diff(ends[last], prepend=ends.new_zeros(1)).tolist()  # once per epoch
        for start, size in zip(range(0, len(shuffled), batch), sizes):
            block, mask = dense(shuffled[start : start + batch], size)
            loss = (((network(block) - block) * mask) ** 2).sum() / mask.sum().clamp(min=1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        run.epoch_seconds.append(time.perf_counter() - started)
    network.eval()
    test_users, test_items, test_values = tensors(data.test, device)
    predictions = torch.empty_like(test_values)
    with torch.no_grad():
        for start in range(0, data.n_users, 4096):
            rows = torch.arange(start, min(start + 4096, data.n_users), device=device)
            n_entries = int(lengths[rows].sum())
            reconstruction = network(dense(rows, n_entries)[0])
            wanted = (test_users >= start) & (test_users < start + len(rows))
            predictions[wanted] = reconstruction[test_users[wanted] - start, test_items[wanted]]
    run.rmse = held_out_rmse(predictions, test_values)
    return run


# -- embrec's loop ----------------------------------------------------------------------------


def embrec_run(data: Data, model: str, device: torch.device, epochs: int,
               hyper: dict[str, Any]) -> Run:
    users, items = IdMap(np.arange(data.n_users)), IdMap(np.arange(data.n_items))
    trained = fit(data.ratings(data.train, users, items), model, solver="torch",
                  test=data.ratings(data.test, users, items), epochs=epochs,
                  device=device_name(device), schedule="constant", verbose=False, **hyper)
    return Run([e.seconds for e in trained.history.epochs], trained.metrics["test_rmse"])


# -- the workloads ------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    data: str  # "pairs" or "rows"
    batch: int
    model: str
    hyper: dict[str, Any]
    reference: Callable[[Data, torch.device, int, int], Run]
    extrapolate_to: int | None = None


def workloads() -> list[Workload]:
    mf = {"factors": 64, "y_range": None, "emb_l2": 0.0}
    return [
        Workload("mf-bias sgd", "pairs", 4_194_304, "mf-bias",
                 {**mf, "optimizer": "sgd", "lr": 50.0, "weight_decay": 0.0},
                 lambda d, dev, e, b: reference_mf_sgd(d, dev, e, b, lr=50.0)),
        Workload("mf-bias adamw", "pairs", 262_144, "mf-bias",
                 {**mf, "optimizer": "adamw", "lr": 5e-3, "weight_decay": 0.1},
                 lambda d, dev, e, b: reference_pairs(
                     DotBias(d.n_users, d.n_items, 64, float(d.train[2].mean())), d, dev, e, b,
                     lr=5e-3, weight_decay=0.1)),
        Workload("embnet", "pairs", 262_144, "embnet",
                 {"factors": 50, "layers": (100, 50), "dropout": 0.3, "dot_factors": 0,
                  "optimizer": "adamw", "lr": 5e-3, "weight_decay": 0.1},
                 lambda d, dev, e, b: reference_pairs(
                     EmbeddingMLP(d.n_users, d.n_items), d, dev, e, b, lr=5e-3,
                     weight_decay=0.1)),
        Workload("deep-ae b1024", "rows", 1024, "deep-ae",
                 {"layers": (512, 256, 64), "dropout": 0.1, "input_dropout": 0.0,
                  "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0},
                 lambda d, dev, e, b: reference_rows(d, dev, e, b, lr=1e-3)),
        Workload("deep-ae b128", "rows", 128, "deep-ae",
                 {"layers": (512, 256, 64), "dropout": 0.1, "input_dropout": 0.0,
                  "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0},
                 lambda d, dev, e, b: reference_rows(d, dev, e, b, lr=1e-3),
                 extrapolate_to=30),
    ]


def shapes(small: bool) -> dict[str, tuple[int, int, int]]:
    def shrink(shape: tuple[int, int, int]) -> tuple[int, int, int]:
        if not small:
            return shape
        return (shape[0] // SMALL["ratings"], shape[1] // SMALL["users"],
                shape[2] // SMALL["items"])

    return {"pairs": shrink(NETFLIX), "rows": shrink(AUTOENCODER)}


def throughput(run: Run, n_train: int) -> float:
    return n_train / run.steady


def extrapolated(run: Run, epochs: int) -> float:
    """Seconds for ``epochs`` epochs: the first as measured, the rest at the steady rate."""
    if len(run.epoch_seconds) >= epochs:
        return sum(run.epoch_seconds[:epochs])
    return run.epoch_seconds[0] + (epochs - 1) * run.steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="Divide ratings, users and pair batches by 100, items by 10.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
    parser.add_argument("--epochs", type=int, default=3, help="Epochs of every workload.")
    parser.add_argument("--ae-epochs", type=int, default=None,
                        help="Epochs of deep-ae b128 (default --epochs; 30 times all 30).")
    parser.add_argument("--only", action="append", default=None,
                        help="Run only the workloads whose name contains this (repeatable).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    chosen = [w for w in workloads()
              if not args.only or any(text in w.name for text in args.only)]
    load_before = os.getloadavg()
    print(f"device {describe_device(device)}; torch {torch.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{'--small' if args.small else 'full'} shapes; load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    data: dict[str, Data] = {}
    rows: list[list[str]] = []
    notes: list[str] = []
    for workload in chosen:
        n_ratings, n_users, n_items = shapes(args.small)[workload.data]
        if workload.data not in data:
            data[workload.data] = synthetic(n_ratings, n_users, n_items, args.seed)
            print(f"{workload.data}: {n_ratings:,} ratings of {n_users:,} users x {n_items:,} "
                  f"items generated in {data[workload.data].seconds:.1f} s", flush=True)
        batch = workload.batch
        if args.small and workload.data == "pairs":
            batch = max(1, batch // SMALL["pair_batch"])
        epochs = (args.ae_epochs or args.epochs) if workload.extrapolate_to else args.epochs
        sample = data[workload.data]
        hyper = {**workload.hyper, "batch_size": batch, "seed": args.seed}
        ours = embrec_run(sample, workload.model, device, epochs, hyper)
        reference = workload.reference(sample, device, epochs, batch)
        n_train = len(sample.train[0])
        ours_rate, reference_rate = throughput(ours, n_train), throughput(reference, n_train)
        rows.append([workload.name, f"{n_ratings / 1e6:.2f}M", f"{batch:,}", str(epochs),
                     f"{ours.steady:.3f}", f"{reference.steady:.3f}",
                     f"{ours_rate / 1e6:.2f}M", f"{reference_rate / 1e6:.2f}M",
                     f"{ours_rate / reference_rate:.2f}", f"{ours.rmse:.4f}",
                     f"{reference.rmse:.4f}"])
        print("  " + "  ".join(rows[-1]), flush=True)
        if workload.extrapolate_to:
            how = ("timed" if epochs >= workload.extrapolate_to
                   else f"extrapolated from {epochs} measured")
            notes.append(f"{workload.name}: {workload.extrapolate_to} epochs take "
                         f"{extrapolated(ours, workload.extrapolate_to):.1f} s with embrec, "
                         f"{extrapolated(reference, workload.extrapolate_to):.1f} s with the "
                         f"reference ({how} epochs)")
    header = ["workload", "ratings", "batch", "epochs", "embrec s/ep", "ref s/ep",
              "embrec r/s", "ref r/s", "embrec/ref", "embrec RMSE", "ref RMSE"]
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    for note in notes:
        print(note)
    load_after = os.getloadavg()
    print(f"s/ep: mean seconds of the epochs after the first; r/s: training ratings per "
          f"second; embrec/ref: embrec's speed as a share of the reference's. Load average "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
