"""A report of a real audit, read in Chromium: the penguins sample through the real stages, without Prefect.

The stages are the plain functions the flow's tasks wrap (real DuckDB, real Great Expectations with Data Docs,
real scikit-learn folds, real confident learning), so the page shows exactly what an audit stores; the flow
itself is covered by ``tests/flow``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labelaudit.inputs.definition import load_dataset
from labelaudit.models.crossval import fit_fold, plan_folds
from labelaudit.pipeline import fit, ingest, score, validate
from labelaudit.pipeline.gate import judge_batch
from labelaudit.report import publish_run
from labelaudit.store import AuditStore
from labelaudit.store.database import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _audit(store: AuditStore, source: Path, docs: Path) -> str:
    bundle = load_dataset(REPO / "expectations", "penguins")
    definition = bundle.definition
    run_id = store.begin_run(dataset="penguins", source=str(source), params={"folds": definition.folds})
    batch = ingest.ingest(store, run_id, str(source), bundle)
    validate.validate(store, run_id, batch, bundle, data_docs_dir=docs)
    labels, classes = fit.labels_and_classes(batch, bundle)
    started = utcnow()
    plan = plan_folds(labels, classes, folds=definition.folds, seed=definition.seed)
    results = [fit_fold(batch.frame, labels, len(classes), plan, f, definition) for f in range(plan.n_folds)]
    probs, metrics = fit.store_fit(store, run_id, started, results, labels, classes)
    overall = metrics[metrics["fold"].isna()].iloc[0]
    scored = score.score_multiclass(
        store, run_id, batch, labels, probs, classes, bundle, oof_log_loss=overall["log_loss"]
    )
    verdict = judge_batch(store, run_id, scored, bundle)
    store.finish_run(
        run_id, status="completed" if verdict.passed else "rejected", verdict=verdict.verdict, message=verdict.message()
    )
    return run_id


def test_report_of_a_real_audit(tmp_path, visit, screenshots) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    source = tmp_path / "penguins_noisy.csv"
    shutil.copy(REPO / "data" / "penguins" / "penguins_noisy.csv", source)
    run_id = _audit(store, source, tmp_path / "gx")
    published = publish_run(store, run_id, destination=tmp_path / "reports", data_docs_dir=tmp_path / "gx")
    report = Path(published.location)
    assert (report.parent / "gx" / "index.html").is_file()

    seen = visit(published.url)
    page = seen.page
    page.screenshot(path=str(screenshots / "penguins-real-run-desktop.png"), full_page=True)
    metrics = store.query("SELECT * FROM run_metrics WHERE run_id = ?", [run_id]).iloc[0]
    assert page.locator("#verdict h2").inner_text().strip() == "Rejected"
    assert page.locator('[data-metric="flagged"]').inner_text() == f"{metrics['flagged']:,}"
    rate = page.locator('[data-metric="estimated_error_rate"]').inner_text()
    assert rate == f"{metrics['estimated_error_rate'] * 100:.2f}%"
    breaches = store.query("SELECT count(*) AS n FROM gate_results WHERE run_id = ? AND NOT passed", [run_id])
    assert page.locator("table.gate tr.fail").count() == breaches["n"].iloc[0] > 0
    ids = store.query("SELECT row_id FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank", [run_id])["row_id"]
    assert page.locator("#flagged-table tbody td:nth-child(2)").all_inner_texts() == ids.tolist()[:100]
    checks = store.query("SELECT count(*) AS n FROM validation_results WHERE run_id = ?", [run_id])["n"].iloc[0]
    assert page.locator("table.validation tbody tr").count() == checks > 0
    assert page.locator("#data-docs-link").get_attribute("href") == "gx/index.html"
    seen.assert_clean()
