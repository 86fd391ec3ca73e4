"""The package's import graph, read with `ast` (nothing is imported): no cycles, no module too big.

Every ``import`` statement of every ``scaling/**/*.py`` is an edge, wherever it sits: at module level, inside
a function (a deferred import, which runs later but still needs the other module) or under
``if TYPE_CHECKING:`` (kept apart: it never runs, so it is no edge of a cycle). ``from scaling.x import y``
names the module ``scaling.x.y`` when that is a module, else ``scaling.x`` (a package is its ``__init__.py``);
relative imports resolve the same way. Importing a module also runs its packages' ``__init__.py``, so an edge
to ``scaling.x.y`` is an edge to ``scaling.x`` too, unless the importer sits inside ``scaling.x`` itself (its
package is then already being imported).

Run this file as a script to print the graph's cycles and the deferred imports of each module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scaling"

# Cycles allowed (none): each entry would be the set of modules of one strongly connected component.
CYCLES_OWNED_ELSEWHERE: tuple[frozenset[str], ...] = ()
PACKAGES_OWNED_ELSEWHERE: tuple[str, ...] = ()

MAX_LINES = 600
LONG_MODULES_OWNED_ELSEWHERE: set[str] = set()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "module", "deferred" or "type-checking"
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """(node, kind) for each import statement, kind as in `Edge`."""

    def walk(node: ast.AST, kind: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, kind
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, "type-checking" if kind == "type-checking" else "deferred")
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), "type-checking")
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), kind)
            else:
                yield from walk(child, kind)

    yield from walk(tree, "module")


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool, known: set[str]) -> list[str]:
    """The package's modules one import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    if node.level:
        base = source.split(".") if is_package else source.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    if stem not in known:
        return []
    return [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]


def _with_packages(source: str, target: str, known: set[str]) -> list[str]:
    """``target`` and the packages importing it runs, less those ``source`` already sits in."""
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]  # ``scaling`` itself imports nothing
    packages = [name for name in chain[:-1] if name in known and not (source + ".").startswith(name + ".")]
    return [*packages, target] if target != source else packages


def import_edges() -> list[Edge]:
    found = modules()
    known = set(found)
    edges = []
    for source, path in found.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, kind in _imports(tree):
            for target in _targets(node, source, path.name == "__init__.py", known):
                for name in _with_packages(source, target, known):
                    edges.append(Edge(source, name, kind, node.lineno))
    return edges


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's algorithm, iterative; only components of more than one module (no module imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(frozenset(component))
    return out


def import_cycles(edges: list[Edge] | None = None) -> list[frozenset[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in import_edges() if edges is None else edges:
        if edge.kind != "type-checking":
            graph[edge.source].add(edge.target)
            graph[edge.target]
    return strongly_connected(graph)


def _owned_elsewhere(cycle: frozenset[str]) -> bool:
    return cycle in CYCLES_OWNED_ELSEWHERE or all(
        any(m == p or m.startswith(p + ".") for p in PACKAGES_OWNED_ELSEWHERE) for m in cycle
    )


def _describe(cycle: frozenset[str], edges: list[Edge]) -> str:
    inside = sorted(
        {
            f"  {e.source} -> {e.target} ({e.kind}, line {e.line})"
            for e in edges
            if e.source in cycle and e.target in cycle and e.kind != "type-checking"
        }
    )
    return "\n".join([" <-> ".join(sorted(cycle)), *inside])


def test_the_graph_sees_every_kind_of_import():
    edges = import_edges()
    kinds = {e.kind for e in edges}
    assert kinds == {"module", "deferred", "type-checking"}
    assert any(e.source == "scaling.cli" for e in edges)


def test_strongly_connected_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [frozenset("abc")]


def test_no_import_cycles():
    edges = import_edges()
    cycles = [c for c in import_cycles(edges) if not _owned_elsewhere(c)]
    assert not cycles, "import cycles:\n" + "\n\n".join(_describe(c, edges) for c in cycles)


def test_no_module_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    over = {name: n for name, n in long.items() if name not in LONG_MODULES_OWNED_ELSEWHERE}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


if __name__ == "__main__":
    all_edges = import_edges()
    for found_cycle in import_cycles(all_edges):
        print(_describe(found_cycle, all_edges), "\n")
    counts: dict[str, int] = defaultdict(int)
    for found_edge in all_edges:
        counts[found_edge.kind] += 1
    print(dict(counts))
