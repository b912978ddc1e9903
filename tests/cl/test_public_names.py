"""The core's public API is one list (``labelaudit.cl.PUBLIC_API``) and every public scoring function documents
its arrays the numpydoc way, with shapes (issue 12: ``rank.get_*_for_each_label`` had one line, the token
functions no shapes)."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import labelaudit
from labelaudit.cl import PUBLIC_API

#: An array shape in a docstring: ``(N,)``, ``(N, K)``, ``(K, K)``, ``(T, K)``, ``(K, 2, 2)``...
SHAPE = re.compile(r"\((?:[NKTMS]|num_\w+)\b[^)]*\)")


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_the_list_is_each_modules_all(module: str) -> None:
    loaded = importlib.import_module(f"labelaudit.cl.{module}")
    assert sorted(loaded.__all__) == sorted(PUBLIC_API[module])
    for name in PUBLIC_API[module]:
        assert hasattr(loaded, name), f"labelaudit.cl.{module} lacks {name}"


def test_the_top_level_exports_are_in_the_list() -> None:
    for name, module in labelaudit._EXPORTS.items():
        assert name in PUBLIC_API[module.removeprefix("labelaudit.cl.")], f"{name} ({module}) not in PUBLIC_API"


#: A scoring function takes labels, probabilities, features or scores (the text helpers of the token module and
#: ``softmin`` do not).
SCORING_INPUTS = {"labels", "pred_probs", "X", "sentence_scores", "confident_joint"}


def _scoring_functions() -> list[tuple[str, str]]:
    found = []
    for module, names in sorted(PUBLIC_API.items()):
        if module == "outofcore":  # sources and sinks, documented per class
            continue
        loaded = importlib.import_module(f"labelaudit.cl.{module}")
        for name in names:
            value = getattr(loaded, name)
            if inspect.isfunction(value) and SCORING_INPUTS & set(inspect.signature(value).parameters):
                found.append((module, name))
    return found


@pytest.mark.parametrize(("module", "name"), _scoring_functions())
def test_every_public_scoring_function_has_numpydoc_with_shapes(module: str, name: str) -> None:
    function = getattr(importlib.import_module(f"labelaudit.cl.{module}"), name)
    doc = inspect.getdoc(function) or ""
    assert "Parameters\n----------" in doc, f"{module}.{name}: no Parameters section"
    assert "Returns\n-------" in doc, f"{module}.{name}: no Returns section"
    assert SHAPE.search(doc), f"{module}.{name}: no array shape such as (N, K) in its docstring"
