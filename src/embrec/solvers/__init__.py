"""Solvers other than the PyTorch loop, each driven by the one training loop.

``sgd`` and ``als`` (:mod:`embrec.solvers.compiled`) fit ``mf`` and ``mf-bias``
as linear models with compiled kernels; the closed-form biases
(:mod:`embrec.solvers.biases`) fit ``baseline``; ``gibbs``
(:mod:`embrec.solvers.gibbs`) samples a ``bfm``. The protocol they follow is
:class:`embrec.training.solver.Solver`.
"""
