"""constraints.txt pins every dependency at the version installed, and tools/lock.py rewrites it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, str]:
    """{canonical name: pinned version} of a constraints file's lines."""
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            out[canonicalize_name(requirement.name)] = spec.version
    return out


def test_the_lock_pins_every_dependency_at_its_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "lock.py")], capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    fresh = pins(done.stdout)
    assert "embrec" not in fresh
    for name in ("torch", "typer", "click", "numpy", "pytest", "pysocks", "starlette"):
        assert name in fresh, name  # direct, dev, extra-only (urllib3[socks]) and transitive
    assert fresh["torch"] == Version(version("torch")).public  # no local label (+cpu)
    locked = pins((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    assert locked == fresh, "constraints.txt is out of date with .venv: run make lock"
