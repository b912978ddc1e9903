"""DuckDB sources: one URL rule, safe decoding of the query, and a query that cannot touch anything else."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from labelaudit.errors import InputDataError
from labelaudit.inputs.readers import read_batch
from labelaudit.inputs.sources import parse_duckdb_url, resolve_duckdb_url
from labelaudit.project_config import load_project_config
from labelaudit.store import AuditStore


@pytest.fixture
def source_db(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE labels AS SELECT * FROM (VALUES ('a+b', 'x&y', 1), ('c d', 'z', 2)) t(id, tag, n)")
    return path


def test_three_slashes_are_relative_to_the_working_directory(source_db: Path, monkeypatch) -> None:
    monkeypatch.chdir(source_db.parent)

    frame, info = read_batch("duckdb:///warehouse.duckdb?table=labels")

    assert len(frame) == 2 and info.format == "duckdb"
    assert parse_duckdb_url("duckdb:///warehouse.duckdb?table=labels").database == Path("warehouse.duckdb")


def test_four_slashes_are_absolute(source_db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path.parent)  # elsewhere: an absolute path does not depend on it
    assert str(source_db).startswith("/")

    frame, _ = read_batch(f"duckdb:///{source_db}?table=labels")

    assert len(frame) == 2


def test_two_slashes_are_refused_with_the_rule(source_db: Path) -> None:
    with pytest.raises(InputDataError, match=r"three slashes.*four slashes"):
        read_batch("duckdb://warehouse.duckdb?table=labels")


def test_config_file_resolves_three_slashes_against_its_folder(source_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "labelaudit.toml"
    config.write_text(
        '[[datasets]]\nname = "w"\nsource = "duckdb:///warehouse.duckdb?query=SELECT%20*%20FROM%20labels"\n'
    )

    resolved = load_project_config(config).resolve_source(load_project_config(config).datasets[0])

    assert resolved == f"duckdb:///{source_db}?query=SELECT%20*%20FROM%20labels"
    assert resolve_duckdb_url(resolved, Path("/elsewhere")) == resolved  # already absolute: unchanged
    assert len(read_batch(resolved)[0]) == 2


def test_plus_stays_plus_and_an_encoded_ampersand_stays_in_the_query(source_db: Path) -> None:
    query = "SELECT * FROM labels WHERE id = 'a+b' OR tag = 'x&y'"
    encoded = query.replace("%", "%25").replace("&", "%26").replace(" ", "%20")

    assert parse_duckdb_url(f"duckdb:///{source_db}?query={encoded}").query == query
    assert parse_duckdb_url(f"duckdb:///{source_db}?query={query.replace('&', '%26')}").query == query
    frame, _ = read_batch(f"duckdb:///{source_db}?query={encoded}", string_columns=("id",))
    assert frame["id"].tolist() == ["a+b"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "SELECT * FROM labels WHERE tag = 'x&y'",
            r"unknown parameter \"y'\".*looks truncated \(a ' quote is not closed\).*%26",
        ),
        ("SELECT * FROM labels WHERE n = 1 & n = 2", r"unknown parameter ' n = 2'.*cut at an unencoded '&'"),
        ("SELECT * FROM labels WHERE tag = 'x'&table=labels", "needs"),
        ("SELECT * FROM labels WHERE (n = 1", r"looks truncated \(1 parenthesis not closed\)"),
    ],
    ids=["quote cut by &", "unknown parameter after &", "query and table", "open parenthesis"],
)
def test_a_query_cut_short_is_refused_clearly(source_db: Path, query: str, expected: str) -> None:
    with pytest.raises(InputDataError, match=expected):
        read_batch(f"duckdb:///{source_db}?query={query}")


def _audit_db(path: Path) -> AuditStore:
    store = AuditStore(path)
    store.query("SELECT count(*) FROM runs")  # creates the schema
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ATTACH '{audit}' AS a; DROP TABLE a.runs; SELECT 1", "3 statements"),
        ("SELECT * FROM labels; DROP TABLE labels", "2 statements"),
        ("COPY labels TO '{out}'", "not a COPY statement"),
        ("PRAGMA database_list", "not a PRAGMA statement"),
        ("ATTACH '{audit}' AS a (READ_WRITE)", "not a ATTACH statement"),
        ("SELECT * FROM read_csv('{out}')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
    ],
    ids=["attach and drop", "select then drop", "copy to", "pragma", "attach", "file reader", "read a system file"],
)
def test_a_hostile_query_is_refused_and_changes_nothing(source_db: Path, tmp_path: Path, query: str,
                                                        expected: str) -> None:  # fmt: skip
    audit = tmp_path / "audit.duckdb"
    store = _audit_db(audit)
    runs_before = store.query("SELECT count(*) AS n FROM runs")["n"][0]
    out = tmp_path / "out.csv"
    if "read_csv" in query:
        out.write_text("a\n1\n")
    sql = query.format(audit=audit, out=out)

    with pytest.raises(InputDataError, match=expected):
        read_batch(f"duckdb:///{source_db}?query={sql.replace('&', '%26')}")

    assert store.query("SELECT count(*) AS n FROM runs")["n"][0] == runs_before
    assert out.exists() == ("read_csv" in query)
    with duckdb.connect(str(source_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 2


def test_a_query_cannot_reach_an_audit_database_open_in_the_same_process(source_db: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.duckdb"
    _audit_db(audit)
    with duckdb.connect(str(audit)) as writer:  # the audit database held open for writing, as during a run
        writer.execute("SELECT count(*) FROM runs").fetchall()
        for sql in ("SELECT * FROM runs", f"SELECT * FROM '{audit}'.main.runs", "SELECT * FROM audit.runs"):
            with pytest.raises(InputDataError, match=r"query failed|does not parse"):
                read_batch(f"duckdb:///{source_db}?query={sql}")
        assert writer.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]
