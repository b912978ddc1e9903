"""``display_issues`` and ``common_label_issues`` print as cleanlab 2.9's do (issue 16) and still return their
value. The only difference in the text: the token is marked ``[like this]`` at its position, where cleanlab
colours every occurrence of the word red with terminal escape codes."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

from labelaudit.cl import token_classification as tc
from tests.token._data import cl_summary

TOKENS = [["Paris", "is", "in", "France", "."], ["Paris", "and", "Lyon"], ["Paris", "(", "Lyon", ")", "x"]]
LABELS = [[0, 2, 2, 2, 2], [0, 2, 0], [0, 2, 0, 2, 2]]
PREDICTED = [[1, 2, 2, 1, 2], [1, 2, 1], [2, 2, 1, 2, 2]]
PROBS = [np.eye(3)[row] * 0.8 + 0.2 / 3 for row in PREDICTED]
ISSUES = [(0, 0), (1, 0), (2, 0), (1, 2), (2, 2), (0, 3)]  # Paris x3, Lyon x2, France x1: no ties
NAMES = ["PER", "LOC", "O"]


def _printed(function, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = function(*args, **kwargs)
    return result, out.getvalue()


def _uncoloured(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"labels": LABELS},
        {"pred_probs": PROBS},
        {"labels": LABELS, "pred_probs": PROBS},
        {"labels": LABELS, "pred_probs": PROBS, "class_names": NAMES},
        {"labels": LABELS, "pred_probs": PROBS, "exclude": [(0, 1)]},
        {"labels": LABELS, "pred_probs": PROBS, "top": 2},
    ],
)
def test_display_issues_prints_cleanlabs_lines_and_returns_them(options):
    returned, printed = _printed(tc.display_issues, ISSUES, TOKENS, **options)
    _, theirs = _printed(cl_summary.display_issues, ISSUES, TOKENS, **options)
    assert printed == returned + "\n"
    assert printed.replace("[", "").replace("]", "") == _uncoloured(theirs)
    assert "[Paris]" in printed


def test_display_issues_marks_the_token_at_its_position_only():
    text, _ = _printed(tc.display_issues, [(0, 2)], [["the", "cat", "the", "end", "."]])
    assert text.endswith("the cat [the] end.")


def test_display_issues_of_whole_sentences():
    returned, printed = _printed(tc.display_issues, [1, 2], TOKENS)
    _, theirs = _printed(cl_summary.display_issues, [1, 2], TOKENS)
    assert (
        printed == _uncoloured(theirs)
        and returned == "Sentence issue: Paris and Lyon\n\n\nSentence issue: Paris (Lyon) x"
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"labels": LABELS, "pred_probs": PROBS},
        {"labels": LABELS, "pred_probs": PROBS, "class_names": NAMES},
        {"labels": LABELS, "pred_probs": PROBS, "verbose": False},
        {"labels": LABELS, "pred_probs": PROBS, "top": 1},
    ],
)
def test_common_label_issues_prints_as_cleanlab_and_returns_the_table(options):
    table, printed = _printed(tc.common_label_issues, ISSUES, TOKENS, **options)
    reference, theirs = _printed(cl_summary.common_label_issues, ISSUES, TOKENS, **options)
    assert printed == theirs
    assert table.equals(reference)
    assert "Token 'Paris' is potentially mislabeled 3 times throughout the dataset" in printed
