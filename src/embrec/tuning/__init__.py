"""Hyperparameter search on a carve-out of the training data (``fit(..., tune=BUDGET)``)."""
