"""Reading batches: types survive, and every unreadable input is named precisely."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from labelaudit.errors import InputDataError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.inputs.readers import ReadOptions, file_sha256, preflight, prepare_frame, read_batch


def test_csv_keeps_ids_and_labels_as_written(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text('id,label,x,text\n007,1,1.5,hello\n010,2,,"a, b"\n')

    frame, info = read_batch(str(path), string_columns=("id", "label"))

    assert frame["id"].tolist() == ["007", "010"] and frame["label"].tolist() == ["1", "2"]
    assert str(frame["id"].dtype) == "str" and frame["x"].dtype == "float64" and frame["text"][1] == "a, b"
    assert info.rows == 2 and info.format == "csv" and info.sha256 == file_sha256(path)


def test_parquet_and_duckdb_sources_read_the_same_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "label": ["a", "b", "a"], "n": [1.0, 2.0, 3.0]})
    frame.to_parquet(tmp_path / "b.parquet")
    with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
        con.execute("CREATE TABLE batch AS SELECT * FROM frame")

    from_parquet, _ = read_batch(str(tmp_path / "b.parquet"), string_columns=("id",))
    from_table, info = read_batch(f"duckdb:///{tmp_path}/src.duckdb?table=batch", string_columns=("id",))
    from_query, _ = read_batch(f"duckdb:///{tmp_path}/src.duckdb?query=SELECT * FROM batch WHERE n > 1")

    assert from_parquet["id"].tolist() == from_table["id"].tolist() == ["1", "2", "3"]
    assert info.format == "duckdb" and len(info.sha256) == 64
    assert len(from_query) == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("b.csv", b"", "file is empty"),
        ("b.csv", b"a,b\n", "no rows"),
        ("b.csv", b"a,b\n1,2\n3,4,5\n", "malformed CSV: Expected 2 fields in line 3, saw 3"),
        ("b.csv", b"a,b\n\xff\xfe,1\n", "not UTF-8"),
        ("b.parquet", b"not parquet", "cannot be read as Parquet"),
        ("b.xlsx", b"x", "unsupported file type '.xlsx'"),
    ],
)
def test_unreadable_files_are_named_with_the_reason(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputDataError) as error:
        read_batch(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_file_and_bad_duckdb_source(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        read_batch(str(tmp_path / "nope.csv"))
    with pytest.raises(InputDataError, match=r"needs \?query"):
        read_batch(f"duckdb:///{tmp_path}/x.duckdb")
    with duckdb.connect(str(tmp_path / "x.duckdb")):
        pass
    with pytest.raises(InputDataError, match="query failed"):
        read_batch(f"duckdb:///{tmp_path}/x.duckdb?table=missing")


# -- issue 16: inputs as people really have them ---------------------------------------------------------------

WINE = "wine_id;alcohol;cultivar\nW1;12,5;barolo\nW2;13,1;merlot\nW3;11,9;barolo\n"


def test_semicolon_csv_is_sniffed_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "wine.csv"
    path.write_text(WINE, encoding="utf-8")

    frame, info = read_batch(str(path), string_columns=("wine_id", "cultivar"))

    assert frame.columns.tolist() == ["wine_id", "alcohol", "cultivar"]
    assert frame["cultivar"].tolist() == ["barolo", "merlot", "barolo"]
    assert info.format == "csv, delimiter ';'"
    assert preflight(str(path)) == "csv, delimiter ';' (detected)"


@pytest.mark.parametrize("delimiter", [";", "semicolon"])
def test_delimiter_can_be_given(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "wine.csv"
    path.write_text(WINE, encoding="utf-8")

    frame, _ = read_batch(str(path), options=ReadOptions(delimiter=delimiter))

    assert frame.shape == (3, 3)


def test_a_single_column_holding_the_separator_is_named(tmp_path: Path) -> None:
    path = tmp_path / "wine.csv"
    path.write_text(WINE, encoding="utf-8")

    with pytest.raises(InputDataError) as error:
        read_batch(str(path), options=ReadOptions(delimiter=","))

    message = str(error.value)
    assert str(path) in message and "single column 'wine_id;alcohol;cultivar'" in message
    assert "--delimiter ';'" in message


def test_comma_files_with_other_separators_inside_cells_stay_comma(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text('id,text,tags\n1,"a; b; c",x|y\n2,"d; e",z\n3,f,x|z\n', encoding="utf-8")

    frame, info = read_batch(str(path))

    assert frame.columns.tolist() == ["id", "text", "tags"] and info.format == "csv"


def test_latin1_file_is_named_with_its_line_and_reads_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes("id,label\n1,rouge\n2,ros\u00e9\n3,blanc\n".encode("latin-1"))

    with pytest.raises(InputDataError) as error:
        read_batch(str(path))
    message = str(error.value)
    assert str(path) in message and "not UTF-8" in message and "line 3 (row 2" in message
    assert "b'\\xe9'" in message and "reads '2,rosé'" in message and "--encoding cp1252" in message

    frame, info = read_batch(str(path), options=ReadOptions(encoding="latin-1"))
    assert frame["label"].tolist() == ["rouge", "rosé", "blanc"] and info.format == "csv, encoding iso8859-1"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes("\ufeffid;label\n1;a\n2;b\n".encode())

    frame, _ = read_batch(str(path), string_columns=("id", "label"))

    assert frame.columns.tolist() == ["id", "label"] and frame["id"].tolist() == ["1", "2"]


def test_nul_filled_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\x00" * (1 << 20))

    for check in (read_batch, preflight):
        with pytest.raises(InputDataError, match=r"binary data \(a NUL byte at byte 0\)") as error:
            check(str(path))
        assert str(path) in str(error.value)


def test_file_above_the_memory_budget_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "b.csv"
    path.write_text("id,label\n" + "".join(f"{i},a\n" for i in range(2000)), encoding="utf-8")
    monkeypatch.setenv("LABELAUDIT_MEMORY_BUDGET", "4kB")

    for check in (read_batch, preflight):
        with pytest.raises(InputDataError, match="above the memory budget of 4000 bytes") as error:
            check(str(path))
        assert "LABELAUDIT_MEMORY_BUDGET" in str(error.value) and "labelaudit score" in str(error.value)


def _definition(**extra) -> DatasetDefinition:
    features = [{"name": "x", "role": "numeric"}, {"name": "y", "role": "numeric"}]
    return DatasetDefinition.model_validate({"name": "d", "label_column": "label", "features": features, **extra})


def test_infinite_feature_values_are_named_with_column_and_rows() -> None:
    frame = pd.DataFrame({"label": ["a", "b", "a"], "x": [1.0, float("inf"), -float("inf")], "y": [0.0, 1.0, 2.0]})

    with pytest.raises(InputDataError) as error:
        prepare_frame(frame, _definition(), "b.csv")

    assert str(error.value) == (
        "file b.csv, column 'x', rows 2, 3: holds infinite values; replace them with a finite number or leave the "
        "cell empty"
    )


def test_labels_are_stripped_only_when_the_definition_says_so() -> None:
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"label": pd.Series(["a ", " b", None], dtype="str"), "x": [1.0, 2.0, 3.0]})

    assert prepare_frame(frame(), _definition(), "b.csv")["label"].tolist()[:2] == ["a ", " b"]
    stripped = prepare_frame(frame(), _definition(label_normalisation="strip"), "b.csv")["label"]
    assert stripped.tolist()[:2] == ["a", "b"] and stripped.isna().tolist() == [False, False, True]
