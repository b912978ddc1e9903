"""Parsing the multi-label column formats, and the errors that name file, column and rows."""

from __future__ import annotations

import pandas as pd
import pytest

from labelaudit.inputs.label_formats import LabelFormatError, format_multilabel, parse_multilabel_column


def test_delimited_cells_with_spaces_duplicates_and_missing():
    column = pd.Series(["b|a", " a | c ", "", None, "c|c"], name="tags")
    labels, classes = parse_multilabel_column(column)
    assert classes == ["a", "b", "c"]
    assert labels == [[0, 1], [0, 2], [], [], [2]]
    assert format_multilabel(labels, classes) == ["a|b", "a|c", "", "", "c"]


def test_json_and_auto_formats_and_declared_class_order():
    column = pd.Series(['["sports", "arts"]', "[]", "arts;science"], name="tags")
    labels, classes = parse_multilabel_column(column, classes=["sports", "arts", "science"], separator=";")
    assert labels == [[0, 1], [], [1, 2]]
    assert classes == ["sports", "arts", "science"]
    json_only, _ = parse_multilabel_column(column.iloc[:2], fmt="json")
    assert json_only == [[0, 1], []]


def test_unknown_tags_name_file_column_and_one_based_rows():
    column = pd.Series(["a", "a|zzz", "b", "yyy"], name="tags")
    with pytest.raises(LabelFormatError) as info:
        parse_multilabel_column(column, classes=["a", "b"], source="batch.csv")
    assert info.value.rows == [2, 4]
    assert info.value.column == "tags" and info.value.source == "batch.csv"
    assert "['yyy', 'zzz']" in str(info.value) and "batch.csv" in str(info.value)


@pytest.mark.parametrize("cell", ['["a", ', '{"a": 1}', "[1, 2]"])
def test_malformed_json_cells_are_named(cell):
    with pytest.raises(LabelFormatError, match="not JSON lists of strings") as info:
        parse_multilabel_column(pd.Series(['["a"]', cell], name="tags"), fmt="json")
    assert info.value.rows == [2]


def test_bad_options():
    with pytest.raises(ValueError, match="format must be one of"):
        parse_multilabel_column(pd.Series(["a"]), fmt="yaml")
    with pytest.raises(ValueError, match="separator"):
        parse_multilabel_column(pd.Series(["a"]), separator="")
