"""Layers only point down: no module of embrec imports one of a higher layer, and no two
modules import each other (directly or round a longer loop).

Every module under src/embrec is parsed with ``ast``; imports at the top level,
under ``if TYPE_CHECKING`` and inside functions all count (an import hidden in
a function to dodge a cycle is still a cycle). The layers, lowest first::

    base        errors, device, io, display, numba_threads, presets, version
    data        embrec.data
    protocol    ranking_protocol (top-N candidates, relevance and metrics over Ratings)
    models      embrec.models, predictor
    training    embrec.training, embrec.solvers (the solvers and the one loop)
    bundle      bundle, bundle_check, bundle_metrics (a trained model and its folder)
    tuning      embrec.tuning (a hyperparameter search that is handed the fitter to call)
    fitting     training.fit, lr_find, lr_advice (make a bundle's TrainedModel)
    recommend   embrec.recommend
    evaluation  embrec.evaluation
    interface   embrec.serving, embrec.cli, embrec (the package's public names), __main__

A module may import its own layer or any below, never above. The counts of
cycles, upward imports and function-level imports are printed (``pytest -s``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("embrec.errors", "embrec.device", "embrec.io", "embrec.display",
              "embrec.numba_threads", "embrec.presets", "embrec.version")),
    ("data", ("embrec.data",)),
    ("ranking protocol", ("embrec.ranking_protocol",)),
    ("models", ("embrec.models", "embrec.predictor")),
    ("training", ("embrec.training", "embrec.solvers")),
    ("bundle", ("embrec.bundle", "embrec.bundle_check", "embrec.bundle_metrics")),
    ("tuning", ("embrec.tuning",)),
    ("fitting", ("embrec.training.fit", "embrec.training.lr_find", "embrec.training.lr_advice")),
    ("recommend", ("embrec.recommend",)),
    ("evaluation", ("embrec.evaluation",)),
    ("interface", ("embrec.serving", "embrec.cli", "embrec.__main__", "embrec")),
]

# Exceptions, each with its reason beside it; there are none. A cycle is the sorted
# tuple of its modules; an upward import is (importer, imported).
ALLOWED_CYCLES: set[tuple[str, ...]] = set()
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of the longest matching prefix (``training.fit`` beats ``training``)."""
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best


def collect_imports(modules: dict[str, Path]) -> tuple[dict[str, set[str]], int]:
    """``importer -> imported embrec modules``, and how many imports sit inside functions."""
    graph: dict[str, set[str]] = defaultdict(set)
    hidden = 0
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {id(n) for f in ast.walk(tree)
                       if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from embrec.x import y``: y may be a submodule of the package embrec.x.
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            targets = [t for t in targets if t in modules and t != name]
            if targets and id(node) in in_function:
                hidden += 1
            graph[name].update(targets)
    return graph, hidden


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph() -> tuple[dict[str, set[str]], int]:
    modules = {module_name(p): p for p in (SOURCE / "embrec").rglob("*.py")}
    return collect_imports(modules)


def test_every_module_belongs_to_a_layer():
    for path in (SOURCE / "embrec").rglob("*.py"):
        layer_of(module_name(path))


def test_no_module_imports_a_higher_layer_and_none_import_each_other():
    graph, hidden = package_graph()
    upward = sorted((a, b) for a, targets in graph.items() for b in targets
                    if layer_of(b) > layer_of(a))
    found = cycles(graph)
    print(f"\nimport graph: {len(graph)} modules, {sum(map(len, graph.values()))} imports, "
          f"{len(found)} cycles, {len(upward)} upward imports, {hidden} imports inside functions")
    for cycle in found:
        print("  cycle:", " <-> ".join(cycle), "(allowed)" if cycle in ALLOWED_CYCLES else "")
    for a, b in upward:
        print(f"  upward: {a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})")
    assert [c for c in found if c not in ALLOWED_CYCLES] == []
    assert [u for u in upward if u not in ALLOWED_UPWARD] == []


def test_the_checker_finds_a_cycle_and_an_upward_import():
    graph = {"embrec.data.a": {"embrec.data.b"}, "embrec.data.b": {"embrec.data.a"},
             "embrec.models.m": {"embrec.cli.x"}}
    assert cycles(graph) == [("embrec.data.a", "embrec.data.b")]
    assert layer_of("embrec.cli.x") > layer_of("embrec.models.m")
    assert layer_of("embrec.training.fit") > layer_of("embrec.bundle") > layer_of(
        "embrec.training.loop")
