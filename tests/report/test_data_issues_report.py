"""The report's "Data issues" section, the index column and the artifact line, on a real DuckDB file.

Two runs of one dataset are built with :func:`tests.report.builders.build_run`; the second batch's rows are
rewritten to carry injected exact duplicates, a conflicting duplicate (with a hostile text value), near
duplicates, an outlier and rows of the first batch. The data-issues stage's tables are then filled by the real
detectors (:mod:`labelaudit.data_issues`, :mod:`labelaudit.features.neighbours`) and written through
``AuditStore.write_stage``, as the stage does. The page is checked against the tables, in Chromium.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.drift import label_drift
from labelaudit.data_issues.duplicates import find_duplicates
from labelaudit.data_issues.imbalance import class_imbalance
from labelaudit.data_issues.leakage import find_leakage
from labelaudit.data_issues.near_duplicates import find_near_duplicates
from labelaudit.data_issues.outliers import find_outliers
from labelaudit.features.neighbours import nearest_neighbours
from labelaudit.pipeline.gate import GateCheck, GateResult
from labelaudit.report import publish_run
from labelaudit.report.artifacts import data_issue_line, render_summary
from labelaudit.report.model import load_index, load_run
from labelaudit.report.summary import run_summary
from labelaudit.store import AuditStore, StageWrite
from tests.report.builders import build_run, day

HOSTILE_TEXT = '<img src=x onerror="window.__xss=14">'
CLASSES = ["negative", "neutral", "positive"]


@dataclass(frozen=True)
class IssueRuns:
    store: AuditStore
    first: str
    second: str
    old: str  # a run of the same dataset without the data-issues stage


def _rewrite_rows(store: AuditStore, run_id: str, seed: int, earlier: pd.DataFrame | None) -> pd.DataFrame:
    """Give the run's ingested rows numeric features, and inject the issues; returns the rows as stored."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT row_idx, row_id, given_label, record FROM ingested_rows WHERE run_id = ? ORDER BY row_idx",
            [run_id],
        ).df()
    records = pd.DataFrame([json.loads(r) for r in rows["record"]])
    rng = np.random.default_rng(seed)
    records["stars"] = rng.normal(3, 1, len(records)).round(6)
    records["channel"] = rng.choice(["web", "app", "mail"], len(records))
    if earlier is not None:
        for col in ("text", "stars", "channel"):
            records.loc[5:8, col] = earlier.loc[5:8, col].to_numpy()  # 4 rows of the earlier batch: leakage
        records.loc[10:11, ["text", "stars", "channel"]] = records.loc[9, ["text", "stars", "channel"]].to_list()
        rows.loc[10:11, "given_label"] = rows.loc[9, "given_label"]  # same item, same label: exact duplicates only
        records.loc[13, "text"] = HOSTILE_TEXT
        records.loc[14, ["text", "stars", "channel"]] = records.loc[13, ["text", "stars", "channel"]].to_list()
        rows.loc[14, "given_label"] = next(c for c in CLASSES if c != rows.loc[13, "given_label"])
        records.loc[21, ["stars", "channel"]] = [records.loc[20, "stars"] + 1e-7, records.loc[20, "channel"]]
        records.loc[30, "stars"] = 1000.0  # an outlier
    records["sentiment"] = rows["given_label"].to_numpy()
    rows["record"] = records.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    with store.transaction() as con:
        con.register("_rows", rows)
        con.execute(
            "UPDATE ingested_rows AS i SET record = r.record, given_label = r.given_label FROM _rows r "
            "WHERE i.run_id = ? AND i.row_idx = r.row_idx",
            [run_id],
        )
        con.execute(
            "UPDATE scores AS s SET given_label = r.given_label FROM _rows r "
            "WHERE s.run_id = ? AND s.row_idx = r.row_idx",
            [run_id],
        )
        con.unregister("_rows")
    return records.assign(row_id=rows["row_id"].to_numpy(), row_idx=rows["row_idx"].to_numpy())


def _matrix(records: pd.DataFrame) -> np.ndarray:
    channel = records["channel"].map({"web": 0.0, "app": 10.0, "mail": 20.0}).to_numpy()
    return np.column_stack([records["stars"].to_numpy(float), channel])


def _write_issues(store: AuditStore, run_id: str, records: pd.DataFrame, history: pd.DataFrame) -> None:
    """What the data-issues stage writes, from the real detectors."""
    features = records[["text", "stars", "channel"]]
    hashes = pd.util.hash_pandas_object(features, index=False).to_numpy(np.uint64)
    ids, labels = records["row_id"].to_numpy(), records["sentiment"].to_numpy()
    dups = find_duplicates(hashes, ids, labels, run_id=run_id)
    leaks = find_leakage(hashes, ids, history, run_id=run_id, labels=labels)
    distances, indices = nearest_neighbours(_matrix(records), 10, backend="brute")
    near = find_near_duplicates(distances, indices, row_ids=ids, run_id=run_id)
    outliers = find_outliers(distances, row_ids=ids, run_id=run_id)
    findings = pd.concat([dups.rows, leaks.rows, near, outliers], ignore_index=True).drop(columns="run_id")
    findings.insert(1, "row_idx", findings["row_id"].map(dict(zip(ids, records["row_idx"], strict=True))))
    counts = pd.Series(labels).value_counts()
    hist = history.drop_duplicates("row_id")["label"].value_counts() if len(history) else pd.Series(dtype=int)
    drift = label_drift(counts, hist)
    imbalance = class_imbalance(counts.reindex(CLASSES, fill_value=0))
    n = len(records)
    summary = pd.DataFrame(
        [
            ("exact_duplicate", True, n, dups.duplicate_rows, dups.duplicate_groups, dups.duplicate_rate, None),
            (
                "conflicting_duplicate",
                True,
                n,
                dups.conflicting_rows,
                dups.conflicting_groups,
                dups.conflicting_rate,
                None,
            ),
            (
                "near_duplicate",
                True,
                n,
                int(near["is_issue"].sum()),
                int(near["group_id"].nunique()),
                near["is_issue"].mean(),
                None,
            ),
            ("outlier", True, n, int(outliers["is_issue"].sum()), None, outliers["is_issue"].mean(), None),
            ("uncertain", False, n, 0, None, None, "no out-of-fold probabilities <b>here</b>"),
            ("leaked_duplicate", True, n, leaks.leaked_rows, None, leaks.leaked_rate, None),
            ("label_drift", True, drift.batch_rows, int(drift.is_drift), None, drift.gated_psi, None),
            ("class_imbalance", True, n, len(imbalance.imbalanced_classes), None, imbalance.min_ratio, None),
        ],
        columns=["issue_type", "checked", "rows", "flagged", "groups", "rate", "message"],
    )
    test = pd.DataFrame(
        [
            {
                "history_runs": int(history["run_id"].nunique()) if len(history) else 0,
                "batch_count": drift.batch_rows,
                "history_count": drift.history_rows,
                "chi2": drift.chi2,
                "dof": drift.dof,
                "p_value": drift.p_value,
                "psi": drift.psi,
                "gated_psi": drift.gated_psi,
                "alpha": drift.alpha,
                "max_psi": drift.max_psi,
                "is_drift": drift.is_drift,
                "new_classes": json.dumps(drift.new_classes),
                "vanished_classes": json.dumps(drift.vanished_classes),
            }
        ]
    )
    row_hashes = pd.DataFrame(
        {"row_idx": records["row_idx"], "row_id": ids, "hash": hashes, "label": labels, "feature_key": "test"}
    )
    tables = {
        "row_hashes": row_hashes,
        "data_issue_findings": findings,
        "data_issue_summary": summary,
        "label_drift": test,
        "label_drift_classes": drift.classes,
        "class_imbalance": imbalance.classes.assign(threshold=imbalance.threshold),
    }
    with store.connect() as con:
        started = con.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
    store.write_stage(run_id, "data_issues", StageWrite(tables, started + timedelta(seconds=9), rows=n))
    _add_gate_rows(store, run_id, dups.duplicate_rate, leaks.leaked_rate)


def _add_gate_rows(store: AuditStore, run_id: str, duplicate_rate: float, leaked_rate: float) -> None:
    """The gate's rows for two data-issue thresholds, beside the ones the builder wrote."""
    with store.connect() as con:
        kept = con.execute("SELECT * EXCLUDE (run_id) FROM gate_results WHERE run_id = ?", [run_id]).df()
    fields = ["code", "threshold", "scope", "comparison", "limit_value", "measured", "passed"]
    checks = [GateCheck(*r) for r in kept[fields].itertuples(index=False)]
    checks.append(
        GateCheck("GATE-DUP", "max_duplicate_rate", "overall", "max", 0.05, duplicate_rate, duplicate_rate <= 0.05)
    )
    checks.append(GateCheck("GATE-LEAK", "max_leaked_rate", "overall", "max", 0.005, leaked_rate, leaked_rate <= 0.005))
    result = GateResult(checks)
    with store.connect() as con:
        started = con.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
    store.write_stage(run_id, "gate", StageWrite({"gate_results": result.frame()}, started, message=result.message()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> IssueRuns:
    store = AuditStore(tmp_path_factory.mktemp("issues") / "labelaudit.duckdb")
    old = build_run(
        store,
        dataset="shop",
        run_id="20261030-090000-000000",
        rows=120,
        flagged=5,
        classes=CLASSES,
        seed=20,
        started_at=day(-2),
    )
    first = build_run(
        store,
        dataset="shop",
        run_id="20261101-090000-111111",
        rows=300,
        flagged=10,
        classes=CLASSES,
        seed=21,
        started_at=day(0),
    )
    records = _rewrite_rows(store, first.run_id, 21, None)
    _write_issues(store, first.run_id, records, pd.DataFrame(columns=["run_id", "row_id", "hash", "label"]))
    second = build_run(
        store,
        dataset="shop",
        run_id="20261102-090000-222222",
        rows=300,
        flagged=12,
        classes=CLASSES,
        seed=22,
        started_at=day(1),
    )
    records2 = _rewrite_rows(store, second.run_id, 22, records)
    with store.connect() as con:
        history = con.execute(
            "SELECT run_id, row_id, hash, label FROM row_hashes WHERE run_id <> ? ORDER BY run_id", [second.run_id]
        ).df()
    _write_issues(store, second.run_id, records2, history)
    return IssueRuns(store, first.run_id, second.run_id, old.run_id)


def _summary(store: AuditStore, run_id: str) -> pd.DataFrame:
    return store.query("SELECT * FROM data_issue_summary WHERE run_id = ?", [run_id]).set_index("issue_type")


# -- the view model ------------------------------------------------------------------------------------


def test_section_counts_equal_the_tables(runs):
    view = load_run(runs.store, runs.second).data_issues
    table = _summary(runs.store, runs.second)
    assert [c.issue_type for c in view.counts][:3] == ["conflicting_duplicate", "exact_duplicate", "near_duplicate"]
    for c in view.counts:
        assert c.flagged == table.loc[c.issue_type, "flagged"] and c.checked == table.loc[c.issue_type, "checked"]
    conflicting = view.finding("conflicting_duplicate")
    assert conflicting.flagged == 2 and len(conflicting.groups) == 1
    group = conflicting.groups[0]
    assert {r.row_id for r in group.rows} == {"r000013", "r000014"} and len(group.labels) == 2
    exact = view.finding("exact_duplicate")
    sizes = sorted(g.size for g in exact.groups)
    assert sizes == [2, 3]  # rows 9-11 and 13-14
    leaked = view.finding("leaked_duplicate")
    assert {r.row_id for r in leaked.rows} == {"r000005", "r000006", "r000007", "r000008"}
    assert all(r.note.startswith(f"run {runs.first}, row r00000") for r in leaked.rows)
    outliers = view.finding("outlier")
    assert outliers.rows[0].row_id == "r000030"
    assert view.drift is not None and view.drift.chart is not None and view.drift.history_runs == 1
    gate = {c.issue_type: c.gate for c in view.counts}
    assert gate["exact_duplicate"].threshold == "max_duplicate_rate" and gate["leaked_duplicate"].passed is False


def test_section_absent_for_runs_without_the_stage(runs):
    assert load_run(runs.store, runs.old).data_issues is None
    index = {r.run_id: r for d in load_index(runs.store) for r in d.runs}
    assert index[runs.old].data_issues is None
    # distinct rows with at least one finding (a row both exact and conflicting duplicate counts once)
    rows = runs.store.query("SELECT DISTINCT row_id FROM data_issues WHERE run_id = ? AND is_issue", [runs.second])
    flagged = _summary(runs.store, runs.second).drop(["label_drift", "class_imbalance"])["flagged"].sum()
    assert index[runs.second].data_issues == len(rows) < flagged
    assert "leaked_duplicate 4" in index[runs.second].data_issue_types


def test_group_cap_counts_the_rest(runs, monkeypatch):
    import labelaudit.report.data_issues_section as section

    monkeypatch.setattr(section, "MAX_GROUP_ROWS", 2)
    monkeypatch.setattr(section, "MAX_GROUPS", 1)
    view = load_run(runs.store, runs.second).data_issues
    exact = view.finding("exact_duplicate")
    assert len(exact.groups) == 1 and exact.more_groups == 1
    assert exact.groups[0].size == 3 and exact.groups[0].more == 1  # the group of rows 9-11, first by group_id


def test_artifact_line_names_each_issue_type(runs):
    line = data_issue_line(runs.store, runs.second)
    table = _summary(runs.store, runs.second)
    assert f"{table.loc['exact_duplicate', 'flagged']} exact duplicates" in line
    assert "2 conflicting duplicates" in line and "4 leaked duplicates" in line
    assert "uncertain not checked" in line and "label drift" in line
    text = render_summary(run_summary(runs.store, runs.second), None, line)
    assert f"**Data issues:** {line}" in text
    assert data_issue_line(runs.store, runs.old) is None
    assert "Data issues" not in render_summary(run_summary(runs.store, runs.old), None, None)


# -- the page, in Chromium -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(runs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("published-issues") / "reports"
    out = {
        name: publish_run(runs.store, run_id, destination=root)
        for name, run_id in (("old", runs.old), ("first", runs.first), ("second", runs.second))
    }
    return {"root": root, **{k: root / v.relative_path for k, v in out.items()}}


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_section_renders_the_tables_numbers(visit, pages, runs, screenshots, viewport):
    from tests.report.conftest import VIEWPORTS

    seen = visit(pages["second"].as_uri(), viewport)
    page = seen.page
    section = page.locator("#data-issues")
    section.screenshot(path=str(screenshots / f"data-issues-{viewport}.png"))
    table = _summary(runs.store, runs.second)
    for issue_type, row in table.iterrows():
        line = page.locator(f'table.data-issue-counts tr[data-issue-type="{issue_type}"]')
        if row["checked"]:
            assert line.locator("[data-found]").inner_text() == f"{row['flagged']:,}"
        else:
            assert "no out-of-fold probabilities <b>here</b>" in line.inner_text()  # escaped, shown as text
    conflicting = page.locator('table.data-issue-groups[data-issue-type="conflicting_duplicate"] tbody.conflicting')
    assert conflicting.count() == 1
    assert HOSTILE_TEXT in conflicting.inner_text()  # the hostile value is text, not an element
    assert page.evaluate("window.__xss") is None
    labels = conflicting.locator("td.label").all_inner_texts()
    assert len(set(labels)) == 2
    leaked = page.locator('table.data-issue-rows[data-issue-type="leaked_duplicate"] tbody tr')
    assert leaked.count() == 4 and runs.first in leaked.first.inner_text()
    drift = _summary(runs.store, runs.second)
    psi = runs.store.query("SELECT psi FROM label_drift WHERE run_id = ?", [runs.second])["psi"][0]
    assert page.locator('#drift-verdict [data-metric="psi"]').inner_text() == f"{psi:,.4f}"
    assert page.locator("#figure-class-mix svg").first.is_visible()
    assert drift.loc["label_drift", "checked"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"] + 1, "the page scrolls sideways (only tables may)"
    seen.assert_clean()


@pytest.mark.browser
def test_no_section_for_an_older_run_and_the_index_column(visit, pages, runs):
    seen = visit(pages["old"].as_uri())
    assert seen.page.locator("#data-issues").count() == 0
    seen.assert_clean()
    seen = visit((pages["root"] / "index.html").as_uri())
    cells = {
        row.locator(".run-id").inner_text(): row.locator("td.data-issues").inner_text().strip()
        for row in seen.page.locator("table.runs tbody tr").all()
    }
    # the index counts distinct rows with at least one finding, as DuckDB does
    rows = runs.store.query(
        "SELECT count(DISTINCT row_idx) AS n FROM data_issue_findings WHERE run_id = ? AND is_issue", [runs.second]
    )
    assert cells[runs.second] == f"{int(rows['n'].iloc[0]):,}" and cells[runs.old] == ""
    seen.assert_clean()
