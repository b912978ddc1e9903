"""One label-kind interface: every ``label_type`` has a kind in the registry, and nothing above the library
asks which kind it is (issue 12: no ``label_type`` or label-kind ``isinstance`` branch in ``flows/`` or
``tasks/``)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from labelaudit.errors import DefinitionError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.kinds import KINDS, LabelKind, kind_for

#: Type names an ``isinstance`` on a label kind or its fit inputs would use.
KIND_TYPE_MARKERS = ("FitInputs", "Kind")


def _layer_files(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    return sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.py"))


def _mentions_kind(node: ast.AST) -> bool:
    """Whether an expression reads a label type: the name ``label_type`` or a registered type as text."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "label_type":
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "label_type":
            return True
        if isinstance(sub, ast.Constant) and sub.value in KINDS:
            return True
        if isinstance(sub, ast.Name | ast.Attribute) and "SEQUENCE_TYPES" in ast.unparse(sub):
            return True
    return False


def _isinstance_on_kind(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"):
        return False
    return len(node.args) == 2 and any(marker in ast.unparse(node.args[1]) for marker in KIND_TYPE_MARKERS)


def kind_branches(path: Path) -> list[str]:
    """``file:line`` of each branch on the label kind: a condition or comparison reading the label type, a
    ``match`` on it, a dict lookup keyed by it outside the registry, or an ``isinstance`` on a kind's type."""
    found: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        tests: list[ast.AST] = []
        if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert):
            tests = [node.test]
        elif isinstance(node, ast.comprehension):
            tests = list(node.ifs)
        elif isinstance(node, ast.Match):
            tests = [node.subject]
        elif isinstance(node, ast.Compare):
            tests = [node]
        if any(_mentions_kind(t) for t in tests) or _isinstance_on_kind(node):
            found.add(node.lineno)
    return [f"{path.name}:{line}" for line in sorted(found)]


@pytest.mark.parametrize("package", ["labelaudit.flows", "labelaudit.tasks"])
def test_no_label_kind_branch_above_the_library(package: str) -> None:
    files = _layer_files(package)
    assert files, package
    offenders = [hit for path in files for hit in kind_branches(path)]
    assert offenders == [], f"branches on the label kind in {package} (ask labelaudit.kinds.kind_for): {offenders}"


def test_the_branch_finder_sees_the_branches_issue_12_removed(tmp_path: Path) -> None:
    """The finder is not vacuous: the shapes the flow and tasks had before the kinds are all caught."""
    source = tmp_path / "before.py"
    source.write_text(
        "if isinstance(inputs, SequenceFitInputs):\n    pass\n"
        "if bundle.definition.label_type in stages_sequences.SEQUENCE_TYPES:\n    pass\n"
        "unit = 'rows' if inputs.label_type == 'multilabel' else 'tokens'\n"
        "match definition.label_type:\n    case _:\n        pass\n"
    )
    assert kind_branches(source) == ["before.py:1", "before.py:3", "before.py:5", "before.py:6"]


def test_every_label_type_the_definition_accepts_has_a_kind() -> None:
    accepted = set(typing.get_args(DatasetDefinition.model_fields["label_type"].annotation))
    assert accepted == set(KINDS)
    for label_type, kind in KINDS.items():
        assert isinstance(kind, LabelKind), f"{label_type}: {type(kind).__name__} lacks part of the interface"
        assert kind.label_type == label_type
        assert kind_for(label_type) is kind
        assert kind.unit in {"rows", "sentences"}
        assert (kind.section is None) == (kind.chart_title is None) == (kind.chart_desc is None)


def test_an_unknown_label_type_is_a_definition_error_naming_the_known_ones() -> None:
    with pytest.raises(DefinitionError, match=r"unknown label_type 'audio'; known: multiclass, multilabel, token"):
        kind_for("audio")


def test_the_kinds_import_nothing_above_them() -> None:
    """Kinds are imported by the report and by the streamed stages: importing either back would be a cycle."""
    files = _layer_files("labelaudit.kinds")
    above = ("labelaudit.report", "labelaudit.pipeline.streamed", "labelaudit.flows", "labelaudit.tasks")
    imports = [
        f"{path.name}: {node.module}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(above)
    ]
    assert imports == []
    for first in ("labelaudit.kinds", "labelaudit.report", "labelaudit.pipeline.streamed"):
        done = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr


def test_every_library_subpackage_is_installed() -> None:
    """``pyproject.toml`` lists packages one by one: a new subpackage (``labelaudit.kinds``) left out of the list
    imports from the checkout but is missing from a built wheel."""
    import tomllib

    import labelaudit

    library = Path(labelaudit.__file__).parent
    listed = set(tomllib.loads((library.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {
        ".".join(("labelaudit", *init.parent.relative_to(library).parts))
        for init in library.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert present - listed == set()
