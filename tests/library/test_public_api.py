"""A cleanlab user switches by changing one import: same names, argument names, order and defaults."""

from __future__ import annotations

import importlib
import inspect

import pytest

import labelaudit

CLEANLAB_HOME = {
    "labelaudit.filter": "cleanlab.filter",
    "labelaudit.rank": "cleanlab.rank",
    "labelaudit.count": "cleanlab.count",
    "labelaudit.multiannotator": "cleanlab.multiannotator",
}


def _params(function: object) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


OWN = {"confident_learning_summary"}  # labelaudit's own, no cleanlab counterpart


@pytest.mark.parametrize("name", sorted(set(labelaudit.__all__) - OWN))
def test_top_level_name_matches_cleanlab_signature(name: str) -> None:
    ours = getattr(labelaudit, name)
    home = CLEANLAB_HOME[labelaudit._EXPORTS[name]]
    theirs = getattr(importlib.import_module(home), name)
    ours_params, theirs_params = _params(ours), _params(theirs)
    assert [n for n, _ in ours_params] == [n for n, _ in theirs_params]
    for (param, mine), (_, reference) in zip(ours_params, theirs_params, strict=True):
        if isinstance(reference, dict | list) or reference is inspect.Parameter.empty:
            continue  # mutable defaults: we use an immutable equivalent
        assert mine == reference, (name, param, mine, reference)


def test_importing_labelaudit_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    heavy = "('prefect', 'great_expectations', 'sklearn', 'cleanlab')"
    code = f"import sys, labelaudit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_library_layer_never_imports_prefect_or_cleanlab() -> None:
    """``labelaudit/`` is the bottom layer: no orchestration, and cleanlab is a test-only oracle."""
    import ast
    from pathlib import Path

    root = Path(labelaudit.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(root)}: {n}" for n in names
                          if n.split(".")[0] in {"prefect", "prefect_dask", "cleanlab", "flows", "tasks"}]  # fmt: skip
    assert offenders == []
