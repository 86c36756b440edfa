"""Row-sparse optimisers for embedding tables: a step costs O(batch), not O(table).

An embedding table built with ``sparse=True`` gets a gradient that lists, for
each lookup of the batch, the row id and the gradient of that row. Both
optimisers here first sum the gradients of repeated rows::

    R = unique(ids),   g_r = Σ_{j : ids_j = r} grad_j          (index_add_ over R)

and then update the rows in ``R`` only; the rest of the table, and its
optimiser state, is not read or written.

:class:`LazyAdam` (``optimizer="lazy-adam"``), as TensorFlow Addons' LazyAdam,
with AdamW's decoupled weight decay applied to the touched rows::

    m_r ← β1 m_r + (1 − β1) g_r
    v_r ← β2 v_r + (1 − β2) g_r²
    p_r ← p_r (1 − lr·wd) − lr · (m_r / (1 − β1^t)) / (√(v_r / (1 − β2^t)) + ε)

``t`` counts the optimiser's steps (not the row's). On rows touched every step
this is AdamW; a row not in the batch keeps its weights and moments where dense
Adam would keep moving it with its decaying momentum, and it is not decayed.

:class:`RowWiseAdagrad` (``optimizer="row-adagrad"``), the row-wise Adagrad of
FBGEMM / TorchRec, one accumulator per row instead of one per weight (a
``k``-times smaller optimiser state)::

    G_r ← G_r + mean(g_r²)
    p_r ← p_r (1 − lr·wd) − lr · g_r / (√G_r + ε)

Why not ``torch.optim.SparseAdam``: it coalesces the gradient and updates
through sparse-tensor kernels, measured at 1.0-1.7M ratings/s on one core pair
where these index ops run at the dense optimiser's speed or better.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

RowCache = dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]]


def unique_rows(
    ids: torch.Tensor, cache: RowCache | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, position)`` with ``rows`` sorted and distinct and ``rows[position] == ids``.

    numpy's sort runs about three times faster than ``torch.unique`` on CPU. The
    user factors and user biases of a batch are looked up with the same index
    tensor, so ``cache`` (one optimiser step's) reuses the answer for it.
    """
    key = (ids.data_ptr(), ids.numel())
    if cache is not None and key in cache:
        return cache[key]
    rows, position = np.unique(ids.numpy(), return_inverse=True)
    answer = torch.from_numpy(rows), torch.from_numpy(position.reshape(-1))
    if cache is not None:
        cache[key] = answer
    return answer


def row_gradient(
    grad: torch.Tensor, cache: RowCache | None = None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(rows, summed)``: the distinct rows a gradient touches and each row's summed gradient.

    A dense gradient is returned whole with ``rows`` None (every row is touched).
    """
    if not grad.is_sparse:
        return None, grad
    ids = grad._indices()[0]
    values = grad._values()
    if grad.is_coalesced():
        return ids, values
    rows, position = unique_rows(ids, cache)
    summed = values.new_zeros((len(rows), *values.shape[1:]))
    summed.index_add_(0, position, values)
    return rows, summed


def _take(table: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """A copy of rows ``rows`` of ``table`` (all rows when None).

    The row gathers and writes go through numpy, whose ``take`` and fancy
    assignment run about 1.5-2x faster than ``index_select`` / ``index_add_`` on
    a CPU table of a few hundred thousand rows.
    """
    if rows is None:
        return table.clone()
    return torch.from_numpy(table.numpy().take(rows.numpy(), axis=0))


def _put(table: torch.Tensor, rows: torch.Tensor | None, values: torch.Tensor) -> None:
    """``table[rows] = values`` (rows distinct)."""
    if rows is None:
        table.copy_(values)
    else:
        table.numpy()[rows.numpy()] = values.numpy()


class LazyAdam(torch.optim.Optimizer):
    """Adam that updates only the rows a sparse gradient touches (see the module docstring)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or eps < 0:
            raise ValueError(f"invalid LazyAdam settings lr={lr}, betas={betas}, eps={eps}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        cache: RowCache = {}
        for group in self.param_groups:
            lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                rows, grad = row_gradient(param.grad, cache)
                m = _take(state["exp_avg"], rows).mul_(beta1).add_(grad, alpha=1 - beta1)
                v = _take(state["exp_avg_sq"], rows).mul_(beta2)
                v.addcmul_(grad, grad, value=1 - beta2)
                _put(state["exp_avg"], rows, m)
                _put(state["exp_avg_sq"], rows, v)
                step_size = lr / (1 - beta1 ** state["step"])
                root_bias = (1 - beta2 ** state["step"]) ** 0.5
                weights = _take(param.data, rows)
                if decay:
                    weights.mul_(1 - lr * decay)
                weights.addcdiv_(m, v.sqrt_().div_(root_bias).add_(eps), value=-step_size)
                _put(param.data, rows, weights)


class RowWiseAdagrad(torch.optim.Optimizer):
    """Adagrad with one accumulator per table row, updating touched rows only."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-2,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0 or eps < 0:
            raise ValueError(f"invalid RowWiseAdagrad settings lr={lr}, eps={eps}")
        super().__init__(params, {"lr": lr, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        cache: RowCache = {}
        for group in self.param_groups:
            lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["sum"] = param.new_zeros(param.shape[0])
                rows, grad = row_gradient(param.grad, cache)
                squares = grad.pow(2).reshape(len(grad), -1).mean(dim=1)
                total = _take(state["sum"], rows).add_(squares)
                _put(state["sum"], rows, total)
                scale = total.sqrt_().add_(eps).reciprocal_().mul_(-lr)
                weights = _take(param.data, rows)
                if decay:
                    weights.mul_(1 - lr * decay)
                weights.addcmul_(grad, scale.view(-1, *([1] * (grad.dim() - 1))))
                _put(param.data, rows, weights)
