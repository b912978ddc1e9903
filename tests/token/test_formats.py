"""Parsing the tokens and per-token labels columns, and the errors that name file, column and rows."""

from __future__ import annotations

import pandas as pd
import pytest

from labelaudit.inputs.label_formats import InvalidTokenDataError, LabelFormatError, parse_token_columns


def test_json_and_whitespace_cells():
    tokens = pd.Series(['["New", "York", "is", "big"]', "Paris  is"], name="tokens")
    labels = pd.Series(["B-LOC I-LOC O O", '["B-LOC", "O"]'], name="labels")
    data = parse_token_columns(tokens, labels)
    assert data.tokens == [["New", "York", "is", "big"], ["Paris", "is"]]
    assert data.classes == ["B-LOC", "I-LOC", "O"]
    assert data.labels == [[0, 1, 2, 2], [0, 2]]


def test_tokens_with_spaces_need_json():
    data = parse_token_columns(pd.Series(['["New York", "!"]']), pd.Series(["B-LOC O"]), classes=["O", "B-LOC"])
    assert data.tokens == [["New York", "!"]] and data.labels == [[1, 0]]


def test_length_mismatch_names_rows():
    tokens = pd.Series(["a b", "a b c", "a"], name="tokens")
    labels = pd.Series(["O O", "O O", "O O"], name="labels")
    with pytest.raises(InvalidTokenDataError, match="row 2: 3 tokens, 2 labels") as info:
        parse_token_columns(tokens, labels, source="ner.csv")
    assert info.value.rows == [2, 3] and info.value.source == "ner.csv" and info.value.column == "labels"


@pytest.mark.parametrize(
    ("tokens", "labels", "rows"),
    [
        (["a", None], ["O", "O"], [2]),
        (["a", ""], ["O", ""], [2]),
        (["a", '["a", 3]'], ["O", "O"], [2]),
    ],
)
def test_missing_empty_or_malformed_cells(tokens, labels, rows):
    with pytest.raises(LabelFormatError) as info:
        parse_token_columns(pd.Series(tokens, name="tokens"), pd.Series(labels, name="labels"))
    assert info.value.rows == rows


def test_unknown_labels_name_rows():
    with pytest.raises(LabelFormatError, match=r"\['B-MISC'\]") as info:
        parse_token_columns(
            pd.Series(["a b", "c"]), pd.Series(["O O", "B-MISC"], name="labels"), classes=["O", "B-PER"]
        )
    assert info.value.rows == [2]


def test_column_lengths_differ():
    with pytest.raises(InvalidTokenDataError, match="3 rows but labels has 2"):
        parse_token_columns(pd.Series(["a"] * 3), pd.Series(["O"] * 2))
