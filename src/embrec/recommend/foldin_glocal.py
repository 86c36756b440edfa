"""Folding a new user into GLocal-K (:mod:`embrec.models.glocal_k`) without retraining.

GLocal-K reconstructs item rows; a user is a column. Its prediction for user u
and item i is linear in the user's output weights::

    r̂_iu = h_i · w_u + c_u       w_u = (W ⊙ ŵ)_{:,u} of the output kernel layer

with ``h_i`` item i's last hidden code, computed from the training matrix
(smoothed by the global kernel). A new user is a new column: the first layer
has no input weight for it (the same as a zero one), so the codes stay those of
the training matrix, and ``θ = [w_u; c_u]`` is the MAP estimate of a ridge
regression of the user's ratings on ``[h_i; 1]`` under a Gaussian prior fitted
to the trained users' θ (:class:`embrec.recommend.foldin.GaussianFoldIn`).
"""

from __future__ import annotations

import numpy as np
import torch

from embrec.bundle import TrainedModel


@torch.no_grad()
def glocal_fold_in(model: TrainedModel):  # -> GaussianFoldIn
    """The MAP output column of a new user on the items' hidden codes."""
    from embrec.recommend.foldin import GaussianFoldIn, population_prior, training_noise

    module = model.module
    module.eval()
    matrix = torch.from_numpy(model.reference_train.to_csr(by="item").toarray())
    codes = module.encode(matrix).numpy()
    features = np.hstack([codes, np.ones((len(codes), 1), dtype=codes.dtype)])
    output = module.output
    users = np.hstack(
        [output.effective_weight().T.numpy(), output.bias.numpy()[:, None]]
    )
    mean, cov = population_prior(model, users)
    return GaussianFoldIn(
        features, np.zeros(len(features)), mean, cov, training_noise(model), None,
        "fold-in: MAP output column on the items' hidden codes (glocal-k)",
    )
