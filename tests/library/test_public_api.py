"""A cleanlab user switches by changing one import: same names, argument names, order and defaults."""

from __future__ import annotations

import importlib
import inspect

import pytest

import labelaudit

CLEANLAB_HOME = {
    "labelaudit.cl.filter": "cleanlab.filter",
    "labelaudit.cl.rank": "cleanlab.rank",
    "labelaudit.cl.count": "cleanlab.count",
    "labelaudit.cl.multiannotator": "cleanlab.multiannotator",
}

MODULE_PAIRS = {
    "cleanlab.filter": "labelaudit.cl.filter",
    "cleanlab.rank": "labelaudit.cl.rank",
    "cleanlab.count": "labelaudit.cl.count",
    "cleanlab.multiannotator": "labelaudit.cl.multiannotator",
    "cleanlab.multilabel_classification.filter": "labelaudit.cl.multilabel_classification",
    "cleanlab.multilabel_classification.rank": "labelaudit.cl.multilabel_classification",
    "cleanlab.multilabel_classification.dataset": "labelaudit.cl.multilabel_classification",
    "cleanlab.token_classification.filter": "labelaudit.cl.token_classification",
    "cleanlab.token_classification.rank": "labelaudit.cl.token_classification",
    "cleanlab.token_classification.summary": "labelaudit.cl.token_classification",
}
"""Every public function of these cleanlab 2.9 modules has a labelaudit counterpart with its signature."""

DOCUMENTED_DEFAULTS = {
    # cleanlab 2.9 defaults `labels` to the type `list` here (a typo for None); ours is None
    ("common_multilabel_issues", "labels"),
}


def _params(function: object) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


def _same_default(mine: object, reference: object) -> bool:
    if isinstance(reference, dict | list) or reference is inspect.Parameter.empty:
        return True  # mutable defaults: we use an immutable equivalent
    if hasattr(reference, "get_params"):  # a scikit-learn estimator: same class and parameters
        return type(mine) is type(reference) and mine.get_params() == reference.get_params()
    return mine == reference


def _cleanlab_functions() -> list[tuple[str, str]]:
    pairs = []
    for home in MODULE_PAIRS:
        module = importlib.import_module(home)
        pairs += [
            (home, name)
            for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == home and not name.startswith("_")
        ]
    return sorted(pairs)


OWN = {"confident_learning_summary"}  # labelaudit's own, no cleanlab counterpart


@pytest.mark.parametrize("name", sorted(set(labelaudit.__all__) - OWN))
def test_top_level_name_matches_cleanlab_signature(name: str) -> None:
    ours = getattr(labelaudit, name)
    home = CLEANLAB_HOME[labelaudit._EXPORTS[name]]
    theirs = getattr(importlib.import_module(home), name)
    ours_params, theirs_params = _params(ours), _params(theirs)
    assert [n for n, _ in ours_params] == [n for n, _ in theirs_params]
    for (param, mine), (_, reference) in zip(ours_params, theirs_params, strict=True):
        assert _same_default(mine, reference), (name, param, mine, reference)


@pytest.mark.parametrize(("home", "name"), _cleanlab_functions())
def test_every_cleanlab_function_exists_with_its_signature(home: str, name: str) -> None:
    """Names, order, kinds (positional or keyword-only) and defaults, so any cleanlab call works unchanged."""
    theirs = inspect.signature(getattr(importlib.import_module(home), name)).parameters
    ours_module = importlib.import_module(MODULE_PAIRS[home])
    assert hasattr(ours_module, name), f"{MODULE_PAIRS[home]} lacks cleanlab's {home}.{name}"
    ours = inspect.signature(getattr(ours_module, name)).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]
    for param, reference in theirs.items():
        if (name, param) not in DOCUMENTED_DEFAULTS:
            assert _same_default(ours[param].default, reference.default), (name, param)


def test_the_new_fitting_helpers_do_not_make_count_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = "import sys, labelaudit.cl.count; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_scoring_doc_names_resolve() -> None:
    """Every ``labelaudit.x.y`` name and every ``labelaudit/...py`` file that docs/scoring.md cites exists."""
    import re
    from pathlib import Path

    root = Path(labelaudit.__file__).resolve().parents[1]
    text = (root / "docs" / "scoring.md").read_text(encoding="utf-8")
    for path in set(re.findall(r"labelaudit/[\w/]+\.py", text)):
        assert (root / path).is_file(), f"docs/scoring.md cites {path}, which does not exist"
    for dotted in set(re.findall(r"`(labelaudit(?:\.\w+)+)", text)):
        _resolve(dotted)


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            assert hasattr(target, attr), f"docs/scoring.md cites {dotted}, which does not resolve"
            target = getattr(target, attr)
        return target
    raise AssertionError(f"docs/scoring.md cites {dotted}, which does not resolve")


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
                          if n.split(".")[0] in {"prefect", "prefect_dask", "cleanlab", "flows", "tasks"}
                          or n.startswith(("labelaudit.flows", "labelaudit.tasks"))]  # fmt: skip
    assert offenders == []
