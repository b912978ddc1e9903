"""The memory-budget setting and the stage write's SQL statements."""

from __future__ import annotations

import pandas as pd
import pytest

from labelaudit.pipeline.probability_table import batch_rows_for
from labelaudit.settings import Settings, parse_bytes
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GiB", 2 * 1024**3), ("512 MB", 512 * 1000**2), ("1e9", 10**9), ("1048576", 1 << 20), (4096, 4096)],
)
def test_sizes_are_read_with_units(text, expected) -> None:
    assert parse_bytes(text) == expected


def test_memory_budget_defaults_to_2_gib_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELAUDIT_MEMORY_BUDGET", raising=False)
    assert Settings().memory_budget == 2 * 1024**3
    monkeypatch.setenv("LABELAUDIT_MEMORY_BUDGET", "512MiB")
    assert Settings().memory_budget == 512 * 1024**2
    with pytest.raises(ValueError, match="size in bytes"):
        parse_bytes("lots")


def test_batch_rows_follow_the_budget() -> None:
    assert batch_rows_for(2 * 1024**3, 4) == 1 << 20
    assert batch_rows_for(2 * 1024**3, 10) == 419_430
    assert batch_rows_for(64 * 1024**2, 100) == 1 << 14


def test_a_stage_streams_an_arrow_reader_in_its_transaction(tmp_path) -> None:
    """The out-of-core score stage hands ``scores`` over as a RecordBatchReader: all of it, or none of it."""
    import pyarrow as pa

    store = AuditStore(tmp_path / "a.duckdb")
    run_id = store.begin_run(dataset="d", source=None, params={})
    schema = pa.schema([("row_idx", pa.int64()), ("row_id", pa.string()), ("given_label", pa.string()),
                        ("suggested_label", pa.string()), ("suggested_prob", pa.float64()),
                        ("label_quality", pa.float64()), ("is_issue", pa.bool_())])  # fmt: skip

    def reader(batches: int, *, fail: bool = False) -> pa.RecordBatchReader:
        def gen():
            for b in range(batches):
                if fail and b == 1:
                    raise OSError("disk went away")
                yield pa.record_batch([pa.array([b]), pa.array([str(b)]), pa.array(["a"]), pa.array(["b"]),
                                       pa.array([0.5]), pa.array([0.1]), pa.array([True])], schema=schema)  # fmt: skip

        return pa.RecordBatchReader.from_batches(schema, gen())

    metrics = pd.DataFrame({"label": ["a"], "given_count": [3], "flagged": [3], "estimated_error_rate": [0.0],
                            "flagged_rate": [1.0], "oof_accuracy": [0.0]})  # fmt: skip
    for _ in range(2):  # a re-run replaces, never appends
        store.write_stage(run_id, "score", StageWrite({"scores": reader(3), "class_metrics": metrics}, utcnow()))
    assert store.query("SELECT count(*) AS n FROM scores")["n"][0] == 3
    with pytest.raises(Exception, match="disk went away"):
        failing = {"class_metrics": metrics, "scores": reader(3, fail=True)}
        store.write_stage(run_id, "score", StageWrite(failing, utcnow()))
    assert store.query("SELECT count(*) AS n FROM scores")["n"][0] == 3
    assert store.query("SELECT count(*) AS n FROM class_metrics")["n"][0] == 1
