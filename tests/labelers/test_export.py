"""Cleaned-dataset export: each strategy on a small frame with known answers, and the writers."""

from __future__ import annotations

import pandas as pd
import pytest

from labelaudit.review.export import clean_dataset, write_dataset

DATA = pd.DataFrame({"id": ["a", "b", "c", "d"], "x": [1, 2, 3, 4], "label": ["cat", "dog", "cat", "owl"]})
RESULTS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "is_issue": [True, True, False],
        "suggested_label": ["dog", "cat", "cat"],
        "suggested_confidence": [0.95, 0.5, 0.99],
        "consensus_label": ["dog", None, "owl"],
    }
)


@pytest.mark.parametrize(
    ("strategy", "labels", "ids", "changed"),
    [
        ("remove", ["cat", "owl"], ["c", "d"], 0),
        ("relabel", ["dog", "dog", "cat", "owl"], ["a", "b", "c", "d"], 1),
        ("consensus", ["dog", "dog", "owl", "owl"], ["a", "b", "c", "d"], 2),
    ],
)
def test_strategies(strategy, labels, ids, changed):
    cleaned, record = clean_dataset(DATA, RESULTS, strategy=strategy)
    assert cleaned["label"].tolist() == labels
    assert cleaned["id"].tolist() == ids
    assert list(cleaned.columns) == ["id", "x", "label"]
    assert record.strategy == strategy
    assert record.labels_changed == changed
    assert (record.rows_in, record.rows_out, record.rows_removed) == (4, len(ids), 4 - len(ids))
    assert DATA["label"].tolist() == ["cat", "dog", "cat", "owl"]  # input untouched


def test_relabel_threshold_is_inclusive_and_recorded():
    cleaned, record = clean_dataset(DATA, RESULTS, strategy="relabel", threshold=0.5)
    assert cleaned["label"].tolist() == ["dog", "cat", "cat", "owl"]
    assert record.to_dict() == {
        "strategy": "relabel",
        "threshold": 0.5,
        "rows_in": 4,
        "rows_out": 4,
        "rows_removed": 0,
        "labels_changed": 2,
    }


@pytest.mark.parametrize(
    ("results", "kwargs", "match"),
    [
        (RESULTS, {"strategy": "shuffle"}, "strategy"),
        (RESULTS, {"strategy": "relabel", "threshold": 1.5}, "threshold"),
        (RESULTS.drop(columns="consensus_label"), {"strategy": "consensus"}, "consensus_label"),
        (RESULTS.drop(columns="is_issue"), {"strategy": "remove"}, "is_issue"),
        (pd.concat([RESULTS, RESULTS.iloc[:1]]), {"strategy": "remove"}, "repeat"),
        (RESULTS.assign(id=["a", "b", "zz"]), {"strategy": "remove"}, "not in the data"),
    ],
)
def test_bad_requests_raise(results, kwargs, match):
    with pytest.raises(ValueError, match=match):
        clean_dataset(DATA, results, **kwargs)


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "sub/out.tsv"])
def test_write_by_extension_round_trips(tmp_path, name):
    path = write_dataset(DATA, tmp_path / name)
    reader = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
    back = reader(path, **({"sep": "\t"} if name.endswith(".tsv") else {}))
    assert back["label"].tolist() == DATA["label"].tolist()
    assert back["x"].tolist() == [1, 2, 3, 4]


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ValueError, match="xlsx"):
        write_dataset(DATA, tmp_path / "out.xlsx")


HOSTILE = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d", "e", "f"],
        "text": ['=HYPERLINK("http://evil.example","col")', "+1", "-2", "@SUM(A1)", "\tx", "fine\rline"],
        "delta": [-3.2, 1.5, -0.25, 0.0, 2.0, -7.0],
    }
)


@pytest.mark.parametrize(("name", "sep"), [("out.csv", ","), ("out.tsv", "\t")])
def test_spreadsheet_exports_neutralise_formulas_and_keep_numbers(tmp_path, name, sep):
    path = write_dataset(HOSTILE, tmp_path / name)
    back = pd.read_csv(path, sep=sep, keep_default_na=False)
    assert back["text"].tolist() == [
        '\'=HYPERLINK("http://evil.example","col")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "fine\rline",  # quoted, so the record is not split
    ]
    assert back["delta"].tolist() == HOSTILE["delta"].tolist()  # negative numbers stay numbers
    assert pd.api.types.is_float_dtype(back["delta"])


def test_parquet_exports_keep_exact_values(tmp_path):
    back = pd.read_parquet(write_dataset(HOSTILE, tmp_path / "out.parquet"))
    pd.testing.assert_frame_equal(back, HOSTILE, check_dtype=False)
