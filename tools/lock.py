"""Write constraints.txt: the installed version of every dependency of embrec, transitively.

Usage: ``python tools/lock.py [OUTPUT]`` with the Python of the environment the
test suite ran in (``make lock`` passes ``.venv/bin/python`` and writes
``constraints.txt``). The requirements are read from ``pyproject.toml`` (the
runtime dependencies and every optional extra), then followed through the
installed packages' metadata, markers evaluated for this machine; each is
pinned at its installed version, as ``pip freeze`` reports it, except that a
local version label (``torch 2.13.0+cpu``) is dropped: ``==2.13.0`` matches
that build. Packages installed but not required (tools, notebooks) are left
out, and so is embrec itself. A required package that is not installed is an
error: run ``make setup`` first.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# The versions the test suite runs with: every dependency of embrec and of its extras,
# transitively, pinned. Every install goes through this file (make setup, make demo,
# make test, CI's .ci/run); pyproject.toml keeps the lowest versions believed to work.
# torch 2.13.0 is the CPU build these machines hold: an unpinned torch resolves to a
# CUDA build of several gigabytes.
#
# Regenerate after adding or upgrading a dependency (install it into .venv first):
#     make lock            # = .venv/bin/python tools/lock.py constraints.txt
# On a merge conflict in this file, keep either side (no markers), then run make lock.
"""


def project_requirements(pyproject: Path) -> tuple[str, list[Requirement]]:
    """embrec's name and its runtime and optional (every extra) requirements."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return canonicalize_name(project["name"]), [Requirement(line) for line in lines]


def applies(requirement: Requirement, extras: set[str]) -> bool:
    """Whether a requirement's marker holds here, for any of the requested extras."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def closure(roots: list[Requirement], own_name: str) -> dict[str, str]:
    """{name: installed version} of the roots and everything they require, transitively."""
    pinned: dict[str, str] = {}
    pending = [(req, "pyproject.toml") for req in roots if applies(req, {""})]
    wanted_extras: dict[str, set[str]] = {}
    while pending:
        requirement, wanted_by = pending.pop()
        key = canonicalize_name(requirement.name)
        if key == own_name:
            continue
        extras = set(requirement.extras)
        seen = wanted_extras.setdefault(key, set())
        if key in pinned and extras <= seen:
            continue
        seen |= extras
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            sys.exit(
                f"lock: {requirement.name} (required by {wanted_by}) is not installed in "
                f"{sys.prefix}: run make setup first"
            )
        pinned[key] = f"{dist.metadata['Name']}=={Version(dist.version).public}"
        for line in dist.requires or []:
            child = Requirement(line)
            if applies(child, {""} | seen):
                pending.append((child, dist.metadata["Name"]))
    return pinned


def main(argv: list[str]) -> int:
    own_name, roots = project_requirements(ROOT / "pyproject.toml")
    pins = closure(roots, own_name)
    text = HEADER + "".join(f"{pins[key]}\n" for key in sorted(pins))
    if len(argv) > 1:
        output = Path(argv[1])
        staging = output.with_name(f".{output.name}.new")
        staging.write_text(text, encoding="utf-8")
        staging.replace(output)
        print(f"lock: {len(pins)} packages pinned in {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
