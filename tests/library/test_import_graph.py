"""The library's import graph, read from the source: no cycle, counting the imports inside functions too.

A function-level import hides a cycle from ``python -c "import x"`` (issue 12 found model ↔ sections in the
report that way), so the graph is built from every ``import`` statement of every module under ``labelaudit/``,
wherever it sits. Imports under ``if TYPE_CHECKING:`` are left out: they never run. No module may be dead
either: each one is imported by another module, a test, a benchmark, a flow or a task, or is an entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "labelaudit"


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(folder: Path) -> dict[str, Path]:
    return {_module_name(p, folder.parent): p for p in sorted(folder.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return skipped


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` (module ``name``) imports anywhere, top level or in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` needs the submodule; ``from pkg import name`` needs the package
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in subs if t in known] or [base]
            if len(targets) < len(subs):
                targets.append(base)
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph(folder: Path) -> dict[str, set[str]]:
    modules = _modules(folder)
    known = set(modules)
    return {name: imported_modules(path, name, known) for name, path in modules.items()}


#: Cycles known and owned elsewhere, each with why it is allowed for now. The test fails on any other cycle, and
#: on a listed one that is gone (so the entry is removed the day the cycle is).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_library_has_no_import_cycle() -> None:
    found = set(cycles(import_graph(LIBRARY)))
    new = [sorted(c) for c in found - set(KNOWN_CYCLES)]
    assert new == [], f"import cycles inside labelaudit (function-level imports count): {new}"
    gone = [sorted(c) for c in set(KNOWN_CYCLES) - found]
    assert gone == [], f"these cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def test_the_cycle_finder_sees_a_function_level_cycle(tmp_path: Path) -> None:
    """Not vacuous: two modules importing each other, one of them inside a function, form a cycle."""
    package = tmp_path / "labelaudit"
    (package / "report").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "report" / "__init__.py").write_text("")
    (package / "report" / "model.py").write_text("from labelaudit.report.sections import part\n")
    (package / "report" / "sections.py").write_text("def part():\n    from . import model\n")
    (package / "report" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from labelaudit.report import model\n"
    )
    graph = import_graph(package)
    assert graph["labelaudit.report.model"] == {"labelaudit.report.sections"}
    assert graph["labelaudit.report.sections"] == {"labelaudit.report.model"}
    assert graph["labelaudit.report.typed"] == set()
    assert cycles(graph) == [frozenset({"labelaudit.report.model", "labelaudit.report.sections"})]


def test_no_library_module_is_dead() -> None:
    """Every library module is imported by some code of the repository (library, flows, tasks, tests,
    benchmarks); a package ``__init__`` and ``__main__`` count as entry points."""
    modules = _modules(LIBRARY)
    known = set(modules)
    users: set[str] = set()
    for folder in ("labelaudit", "flows", "tasks", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = _module_name(path)
            users |= imported_modules(path, name, known)
    dead = sorted(
        name for name, path in modules.items() if name not in users and path.stem not in ("__init__", "__main__")
    )
    assert dead == [], f"library modules nothing imports: {dead}"
