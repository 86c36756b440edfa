"""Options whose value may be left out: ``--tune`` alone means ``--tune default``.

The parser under typer reads every non-flag option with exactly one value, so a
bare ``--tune`` (last, or followed by another option) is given its implied
value here before parsing. ``--tune 30`` and ``--tune=5m`` pass unchanged.
"""

from __future__ import annotations

IMPLIED_VALUES: dict[str, str] = {"--tune": "default"}


def with_implied_values(argv: list[str]) -> list[str]:
    """``argv`` with the implied value after each option in IMPLIED_VALUES given bare."""
    out: list[str] = []
    for i, token in enumerate(argv):
        out.append(token)
        if token == "--":
            out.extend(argv[i + 1:])
            break
        if token in IMPLIED_VALUES:
            following = argv[i + 1] if i + 1 < len(argv) else None
            if following is None or following.startswith("-"):
                out.append(IMPLIED_VALUES[token])
    return out
