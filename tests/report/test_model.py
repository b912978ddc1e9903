"""The view model holds exactly what DuckDB holds for the run."""

from __future__ import annotations

import json

import pytest

from labelaudit.errors import RunNotFoundError
from labelaudit.report import load_index, load_run
from labelaudit.report.model import FIXED_COLUMNS, ColumnFormat, column_format
from labelaudit.store import AuditStore
from tests.report.builders import HOSTILE_COLUMN, HOSTILE_LABEL, LONG_TEXT
from tests.report.measurements import build_measurements_run


def test_headline_numbers_match_run_metrics(audit):
    view = load_run(audit.store, audit.hostile.run_id)
    expected = audit.store.query("SELECT * FROM run_metrics WHERE run_id = ?", [audit.hostile.run_id]).iloc[0]
    assert view.metrics is not None
    assert view.metrics.rows == expected["rows"] == 1500
    assert view.metrics.flagged == expected["flagged"] == 150
    assert view.metrics.estimated_error_rate == pytest.approx(expected["estimated_error_rate"])
    assert view.metrics.oof_accuracy == pytest.approx(expected["oof_accuracy"])
    assert view.metrics.method == expected["method"]
    assert view.outcome == "accepted"


def test_classes_noise_and_gate_match_their_tables(audit):
    run_id = audit.hostile.run_id
    view = load_run(audit.store, run_id)
    classes = audit.store.query("SELECT label FROM classes WHERE run_id = ? ORDER BY class_idx", [run_id])
    assert view.labels == classes["label"].tolist() == ["negative", "neutral", "positive", HOSTILE_LABEL]
    rates = audit.store.query("SELECT label, estimated_error_rate FROM class_metrics WHERE run_id = ?", [run_id])
    assert {c.label: c.estimated_error_rate for c in view.classes} == pytest.approx(
        dict(zip(rates["label"], rates["estimated_error_rate"], strict=True))
    )
    assert len(view.noise) == 16
    assert sum(c.joint for c in view.noise) == pytest.approx(1.0)
    gate = audit.store.query(
        "SELECT code, scope, measured, margin, passed FROM gate_results WHERE run_id = ?", [run_id]
    )
    assert sorted((g.code, g.scope, g.measured, g.margin, g.passed) for g in view.gate) == sorted(
        gate.itertuples(index=False, name=None)
    )


def test_flagged_rows_in_rank_order_with_their_own_fields(audit):
    run_id = audit.hostile.run_id
    view = load_run(audit.store, run_id)
    table = view.flagged
    assert table.total == len(table.rows) == 150
    assert table.columns[: len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    assert table.fields == ["text", "stars", "channel", HOSTILE_COLUMN]  # id and label are the fixed columns
    assert [r[0] for r in table.rows] == list(range(1, 151))
    expected = audit.store.query(
        """SELECT s.row_id, s.given_label, s.suggested_label, s.label_quality, r.record
           FROM scores s JOIN ingested_rows r USING (run_id, row_idx)
           WHERE s.run_id = ? AND s.is_issue ORDER BY s.issue_rank""",
        [run_id],
    )
    for row, want in zip(table.rows, expected.itertuples(index=False), strict=True):
        assert row[1:4] == [want.row_id, want.given_label, want.suggested_label]
        assert row[4] == pytest.approx(want.label_quality)
        record = json.loads(want.record)
        assert row[6:] == [record[f] for f in table.fields]


def test_histogram_counts_every_scored_row(audit):
    view = load_run(audit.store, audit.hostile.run_id)
    assert sum(b.flagged + b.unflagged for b in view.histogram) == 1500
    assert sum(b.flagged for b in view.histogram) == 150
    cutoff = audit.store.query(
        "SELECT max(label_quality) AS m FROM scores WHERE run_id = ? AND is_issue", [audit.hostile.run_id]
    )["m"].iloc[0]
    assert view.flag_cutoff == pytest.approx(cutoff)


def test_trend_lists_the_datasets_scored_runs_up_to_this_one(audit):
    view = load_run(audit.store, audit.rejected.run_id)
    assert [p.run_id for p in view.trend] == [audit.accepted.run_id, audit.rejected.run_id]
    assert [p.current for p in view.trend] == [False, True]
    latest = load_run(audit.store, audit.hostile.run_id)
    # the failed run has no metrics, so it is not a point of the trend
    assert [p.run_id for p in latest.trend] == [audit.accepted.run_id, audit.rejected.run_id, audit.hostile.run_id]


def test_failed_run_shows_its_failure_and_what_is_available(audit):
    view = load_run(audit.store, audit.failed.run_id)
    assert view.outcome == "failed"
    assert view.failed_stage is not None and view.failed_stage.stage == "validate"
    assert view.metrics is None and view.flagged.total == 0 and not view.gate
    assert [v.code for v in view.validation_failures] == ["S04"]
    assert view.validation_failures[0].rows == [4, 17, 99]
    assert "S04" in (view.message or "")


def test_caps_rows_and_cuts_long_values(audit):
    view = load_run(audit.store, audit.hostile.run_id, max_flagged_rows=12, max_cell_chars=200)
    assert view.flagged.capped and len(view.flagged.rows) == 12 and view.flagged.total == 150
    texts = [r[6] for r in view.flagged.rows]
    assert f"{LONG_TEXT[:200]}… [cut: 5,000 characters in all]" in texts
    assert view.flagged.cut_cells == 1
    full = load_run(audit.store, audit.hostile.run_id)
    assert LONG_TEXT in [r[6] for r in full.flagged.rows] and full.flagged.cut_cells == 0


def test_cut_marks_values_over_the_limit(audit):
    view = load_run(audit.store, audit.big.run_id, max_flagged_rows=5, max_cell_chars=20)
    text_index = view.flagged.columns.index("text")
    assert all(r[text_index].endswith("characters in all]") for r in view.flagged.rows)
    assert view.flagged.cut_cells >= 5


def test_unknown_run_is_a_named_error(audit):
    with pytest.raises(RunNotFoundError):
        load_run(audit.store, "no-such-run")


def test_index_lists_every_run_newest_first(audit):
    datasets = {d.name: d for d in load_index(audit.store)}
    assert set(datasets) == {"reviews", "big-corpus"}
    reviews = datasets["reviews"]
    assert [r.run_id for r in reviews.runs] == [
        audit.hostile.run_id,
        audit.failed.run_id,
        audit.rejected.run_id,
        audit.accepted.run_id,
    ]
    assert [r.outcome for r in reviews.runs] == ["accepted", "failed", "rejected", "accepted"]
    assert len(reviews.trend) == 3
    assert reviews.runs[1].estimated_error_rate is None and reviews.runs[1].rows == 500


# -- the flagged-rows table is formatted by column, not by value ---------------------------------------------


@pytest.mark.parametrize(
    ("values", "kind", "digits"),
    [
        ([38.8, 42.0, None], "float", 1),  # not 38.8000 beside 42
        ([3750.0, 4200.0], "float", 0),  # whole numbers stored as floats (a column with gaps, as pandas reads it)
        ([1, 5, None], "int", 0),
        ([0.123456789, 0.5], "float", 4),  # at most four decimals
        ([1, 2.25], "float", 2),
        (["a", 1.5], "text", 0),  # mixed: text
        ([True, False], "text", 0),
        ([None, None], "text", 0),
    ],
)
def test_column_format_follows_the_whole_column(values, kind, digits):
    assert column_format(values) == ColumnFormat(kind, digits)


def test_column_format_shows_every_value_of_a_column_alike():
    assert [ColumnFormat("float", 1).show(v) for v in (38.8, 42.0, 42)] == ["38.8", "42.0", "42.0"]
    assert [ColumnFormat("int").show(v) for v in (42, 7)] == ["42", "7"]
    assert ColumnFormat("float", 4).show(0.03125) == "0.0313"  # half away from zero, as the page's toFixed
    assert ColumnFormat("float", 2).show(None) is None and ColumnFormat("text").show(38.8) == 38.8


def test_flagged_table_formats_measurements_by_column(tmp_path):
    store = AuditStore(tmp_path / "audit.duckdb")
    run = build_measurements_run(store)
    table = load_run(store, run.run_id).flagged
    formats = dict(zip(table.columns, table.formats, strict=True))
    assert formats["bill_length_mm"] == ColumnFormat("float", 1)
    assert formats["body_mass_g"] == ColumnFormat("float", 0)
    assert formats["stars"] == ColumnFormat("int") and formats["text"] == ColumnFormat("text")
    assert formats["rank"] == ColumnFormat("int") and formats["score"] == ColumnFormat("float", 4)
    shown = {table.formats[c].show(row[c]) for row in table.rows for c in [table.columns.index("bill_length_mm")]}
    assert shown == {"38.8", "42.0"}
