"""GLocal-K: an item autoencoder with local (kernelised) weights and a global convolution kernel.

Han, Lin, Poon & Nguyen, "GLocal-K: Global and Local Kernels for Recommender
Systems" (CIKM 2021), building on Muller, Ruehle & Gorbunov's kernel network
("sparse FC", 2018). The input is the item x user rating matrix R (unobserved
entries zero); every item row r_i (one entry per user) is reconstructed.

**Local kernel layer.** A dense weight ``W ∈ R^{n_in x n_out}`` is masked
entrywise by an RBF-like kernel between learned low-dimensional vectors
``u_j ∈ R^d`` of the input units and ``v_k ∈ R^d`` of the output units::

    ŵ_jk = max(0, 1 - ‖u_j - v_k‖²)        (d = 5: compact support, sparse weights)
    layer(x) = a(x (W ⊙ ŵ) + b)

The autoencoder is two such layers of width 500 with sigmoid ``a`` and an
output kernel layer (identity ``a``) back to n_users::

    AE(R) = L_out(L_2(L_1(R)))

**Pre-training** fits AE alone. **Fine-tuning** adds the global kernel: the
mean of each item's reconstruction ``m_i = mean_u AE(R)_iu`` (a vector of
n_items) is mapped by a learned matrix ``C ∈ R^{n_items x k²}`` to a k x k
convolution kernel, which smooths the rating matrix before it enters the same
autoencoder::

    K = reshape(s · mᵀ C, k, k)              (k = 3, s the dot scale)
    R̃ = ReLU(conv2d(R, K, same padding))
    R̂ = AE(R̃)

Both phases minimise (``M`` the mask of observed entries, ``λ_2 = 20``,
``λ_s = 0.006`` on ml-100k)::

    ½ ‖M ⊙ (R - R̂)‖²  +  Σ_layers  (λ_2 / 2) ‖W‖²  +  (λ_s / 2) ‖ŵ‖²

The network's input is the whole rating matrix (the convolution mixes
neighbouring rows and the global kernel pools over every item), so it is
evaluated once per matrix (``whole_matrix``). A new user is a new column: the
items' last hidden codes ``h_i`` are computed from the training matrix and the
user's output weights ``[(W ⊙ ŵ)_{:,u}; b_u]`` regressed on them, as for
item-based AutoRec (:func:`glocal_fold_in`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator
from torch import nn
from torch.nn import functional as F

from embrec.models.base import DataShape, RowModel
from embrec.models.foldin import GaussianFoldIn, population_prior, training_noise
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork


def local_kernel(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``ŵ_jk = max(0, 1 - ‖u_j - v_k‖²)`` for ``u (n_in, d)`` and ``v (n_out, d)``."""
    squared = (u.pow(2).sum(1, keepdim=True) + v.pow(2).sum(1)[None, :] - 2.0 * u @ v.T)
    return torch.clamp(1.0 - squared, min=0.0)


class KernelLayer(nn.Module):
    """``a(x (W ⊙ ŵ) + b)`` with the local kernel ``ŵ`` of :func:`local_kernel`."""

    def __init__(self, n_in: int, n_out: int, dim: int, sigmoid: bool = True) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / (n_in + n_out))
        self.weight = nn.Parameter(torch.empty(n_in, n_out).uniform_(-bound, bound))
        self.u = nn.Parameter(nn.init.trunc_normal_(torch.empty(n_in, dim), std=1e-3))
        self.v = nn.Parameter(nn.init.trunc_normal_(torch.empty(n_out, dim), std=1e-3))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.sigmoid = sigmoid

    def kernel(self) -> torch.Tensor:
        return local_kernel(self.u, self.v)

    def effective_weight(self) -> torch.Tensor:
        """``W ⊙ ŵ`` ``(n_in, n_out)``."""
        return self.weight * self.kernel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.addmm(self.bias, x, self.effective_weight())
        return torch.sigmoid(y) if self.sigmoid else y

    def penalty(self, lambda_2: float, lambda_s: float) -> torch.Tensor:
        """``(λ_2 / 2) ‖W‖² + (λ_s / 2) ‖ŵ‖²``."""
        weights = self.weight.pow(2).sum()
        return 0.5 * lambda_2 * weights + 0.5 * lambda_s * self.kernel().pow(2).sum()


class GLocalK(RowModel):
    """The kernelised item autoencoder with the global convolution kernel (module docstring)."""

    orientation = "item"
    whole_matrix = True

    def __init__(
        self,
        shape: DataShape,
        hidden: int = 500,
        layers: int = 2,
        kernel_dim: int = 5,
        kernel_size: int = 3,
        lambda_2: float = 20.0,
        lambda_s: float = 0.006,
        dot_scale: float = 1.0,
        global_kernel: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, not {kernel_size}")
        self.n_items, self.n_users = shape.n_items, shape.n_users
        widths = [shape.n_users] + [hidden] * layers
        self.hidden = nn.ModuleList(
            KernelLayer(a, b, kernel_dim) for a, b in zip(widths[:-1], widths[1:])
        )
        self.output = KernelLayer(hidden, shape.n_users, kernel_dim, sigmoid=False)
        self.conv_kernel = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(shape.n_items, kernel_size**2), std=0.1)
        )
        self.kernel_size = kernel_size
        self.lambda_2, self.lambda_s = lambda_2, lambda_s
        self.dot_scale = dot_scale
        self.use_global = global_kernel

    def encode_local(self, matrix: torch.Tensor) -> torch.Tensor:
        """Last hidden codes of the local autoencoder ``L_2(L_1(x))``, one row per item."""
        for layer in self.hidden:
            matrix = layer(matrix)
        return matrix

    def local(self, matrix: torch.Tensor) -> torch.Tensor:
        """The pre-trained autoencoder ``AE(R)``."""
        return self.output(self.encode_local(matrix))

    def global_kernel(self, matrix: torch.Tensor) -> torch.Tensor:
        """``K = reshape(s · mᵀ C, k, k)`` with ``m`` the item means of ``AE(R)``."""
        pooled = self.local(matrix).mean(dim=1)
        k = self.kernel_size
        return (self.dot_scale * pooled @ self.conv_kernel).view(1, 1, k, k)

    def smooth(self, matrix: torch.Tensor) -> torch.Tensor:
        """``R̃ = ReLU(conv2d(R, K))`` (the identity without the global kernel)."""
        if not self.use_global:
            return matrix
        self._check_whole(matrix)
        kernel = self.global_kernel(matrix)
        image = matrix[None, None]
        return F.relu(F.conv2d(image, kernel, padding=self.kernel_size // 2))[0, 0]

    def encode(self, matrix: torch.Tensor) -> torch.Tensor:
        """The items' last hidden codes ``h_i`` of the full model ``(n_items, hidden)``."""
        return self.encode_local(self.smooth(matrix))

    def forward(self, matrix: torch.Tensor) -> torch.Tensor:
        """``R̂ = AE(R̃)`` for the whole item x user matrix ``R``."""
        return self.output(self.encode(matrix))

    def penalty(self) -> torch.Tensor:
        layers = [*self.hidden, self.output]
        return sum(layer.penalty(self.lambda_2, self.lambda_s) for layer in layers)

    def _check_whole(self, matrix: torch.Tensor) -> None:
        if matrix.shape != (self.n_items, self.n_users):
            raise ValueError(
                f"GLocal-K takes the whole {self.n_items} x {self.n_users} item x user matrix, "
                f"not {tuple(matrix.shape)}"
            )


class GLocalKConfig(ModelConfig):
    """The paper's ml-100k settings; each epoch is at most ``iterations`` full-batch
    L-BFGS steps (:mod:`embrec.solvers.glocal`). ``lbfgs="scipy"`` is SciPy's
    L-BFGS-B, afresh each epoch, as the paper's code; ``"torch"`` is
    ``torch.optim.LBFGS`` (afresh each epoch with ``restart``: u1 0.954 after the 30
    pre-training epochs, far slower to converge than SciPy's)."""

    hidden: int = Field(500, ge=1)
    layers: int = Field(2, ge=1)
    kernel_dim: int = Field(5, ge=1)
    kernel_size: int = Field(3, ge=1)
    lambda_2: float = Field(20.0, ge=0)
    lambda_s: float = Field(0.006, ge=0)
    dot_scale: float = 1.0
    pretrain_epochs: int = Field(30, ge=1)
    finetune_epochs: int = Field(60, ge=0)
    iterations: int = Field(5, ge=1)
    pretrain_tol: float = Field(0.0, ge=0)
    lbfgs: Literal["scipy", "torch"] = "scipy"
    restart: bool = False

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd (3, 5...), not {value}")
        return value


@torch.no_grad()
def glocal_fold_in(model: TrainedNetwork) -> GaussianFoldIn:
    """A new user as a new column: the MAP output weights ``[w_u; c_u]`` regressed on the
    items' last hidden codes ``h_i`` of the training matrix (``r̂_iu = h_i · w_u + c_u``),
    under a Gaussian prior fitted to the trained users' output columns."""
    module = model.module
    module.eval()
    matrix = torch.from_numpy(model.reference_train.to_csr(by="item").toarray())
    codes = module.encode(matrix).numpy()
    features = np.hstack([codes, np.ones((len(codes), 1), dtype=codes.dtype)])
    output = module.output
    users = np.hstack([output.effective_weight().T.numpy(), output.bias.numpy()[:, None]])
    mean, cov = population_prior(model, users)
    return GaussianFoldIn(
        features, np.zeros(len(features)), mean, cov, training_noise(model), None,
        "fold-in: MAP output column on the items' hidden codes (glocal-k)",
    )


SPEC = ModelSpec(
    "glocal-k",
    "GLocal-K (Han et al. 2021): item autoencoder with local kernelised weights, "
    "pre-trained, fine-tuned with a global convolution kernel (full-batch L-BFGS); "
    "ml-100k u1 0.8928 in 7-11 minutes on 2 shared cores",
    GLocalKConfig,
    lambda c, s, sparse: GLocalK(
        s, c.hidden, c.layers, c.kernel_dim, c.kernel_size, c.lambda_2, c.lambda_s,
        c.dot_scale, global_kernel=c.finetune_epochs > 0,
    ),
    fold_in=glocal_fold_in,
    solvers=("glocal",),
)
