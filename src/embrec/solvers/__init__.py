"""Compiled solvers: numba SGD and ALS for the matrix factorisation models.

``sgd`` (:mod:`embrec.solvers.sgd`) and ``als`` (:mod:`embrec.solvers.als`)
fit ``mf`` and ``mf-bias`` as linear models; :mod:`embrec.solvers.factorization`
holds the solver functions :func:`embrec.fit` calls by name.
"""

from embrec.solvers.factorization import fit_als, fit_sgd

__all__ = ["fit_als", "fit_sgd"]
