"""The scores a trained model records on its test ratings, under their current names.

``fit(..., test=...)`` records ``test_rmse``, ``test_mae``, ``test_loss`` and
``n_test``. Bundles written before the rename hold ``valid_rmse``,
``valid_mae``, ``valid_loss`` and ``n_valid``: they are read under the new
names, and the old names still answer (with a :class:`DeprecationWarning`).
"""

from __future__ import annotations

import warnings
from typing import Any

RENAMED = {
    "valid_rmse": "test_rmse",
    "valid_mae": "test_mae",
    "valid_loss": "test_loss",
    "n_valid": "n_test",
}


def _current(key: Any) -> Any:
    if key in RENAMED:
        warnings.warn(f"metrics[{key!r}] is now metrics[{RENAMED[key]!r}]",
                      DeprecationWarning, stacklevel=3)
        return RENAMED[key]
    return key


class Metrics(dict):
    """A dict of scores whose old key names (``valid_rmse``...) read the new ones."""

    def __init__(self, values: Any = (), **more: Any) -> None:
        super().__init__()
        for key, value in dict(values, **more).items():
            super().__setitem__(RENAMED.get(key, key), value)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(_current(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(RENAMED.get(key, key) if isinstance(key, str) else key)

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(_current(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(RENAMED.get(key, key), value)

    def update(self, values: Any = (), **more: Any) -> None:
        for key, value in dict(values, **more).items():
            self[key] = value
