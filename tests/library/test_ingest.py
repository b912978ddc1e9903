"""Reading batches: types survive, and every unreadable input is named precisely."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from labelaudit.errors import InputDataError
from labelaudit.ingest import file_sha256, read_batch


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
