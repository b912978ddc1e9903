"""The report's "Model and second opinion" section, the flagged rows' kNN column and the artifact line (issue 15).

A real audit without Prefect (ingest, fit with ``"classifier": "auto"``, score with the neighbours' opinion,
data issues, gate) runs on the bundled noisy penguins batch into a real DuckDB file
(:func:`tests.data_issues.audit_helpers.audit`); a second run of the same batch uses ``"flag_rule": "both"``,
and an older run is built without these tables (:func:`tests.report.builders.build_run`: a fixed classifier,
no candidates, no neighbour score). The page is checked against DuckDB's tables, in Chromium.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from labelaudit.report import publish_run
from labelaudit.report.artifacts import model_line, render_summary
from labelaudit.report.model import load_run
from labelaudit.report.models_section import MAX_OPINION_ROWS, MODEL_NAMES
from labelaudit.report.summary import run_summary
from labelaudit.report.views import KNN_COLUMN
from labelaudit.store import AuditStore
from tests.data_issues.audit_helpers import REPO, audit, bundle_with
from tests.report.builders import build_run, day

NOISY = REPO / "data" / "penguins" / "penguins_noisy.csv"


@dataclass(frozen=True)
class ModelRuns:
    store: AuditStore
    auto: str  # classifier auto, flag rule confident_learning (the sample definition)
    both: str  # the same batch, flag rule both
    old: str  # an older run: no model_candidates rows, no neighbour score


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> ModelRuns:
    tmp = tmp_path_factory.mktemp("models")
    store = AuditStore(tmp / "labelaudit.duckdb")
    old = build_run(
        store,
        dataset="penguins",
        run_id="20261030-090000-000000",
        rows=120,
        flagged=5,
        classes=["Adelie", "Chinstrap", "Gentoo"],
        seed=3,
        started_at=day(-2),
    )
    bundle = bundle_with(tmp)
    assert bundle.definition.model.classifier == "auto"  # the sample definition
    auto = audit(store, bundle, NOISY).run_id
    both = bundle.model_copy(update={"definition": bundle.definition.model_copy(update={"flag_rule": "both"})})
    return ModelRuns(store, auto, audit(store, both, NOISY).run_id, old.run_id)


def _candidates(store: AuditStore, run_id: str):
    return store.query("SELECT * FROM model_candidates WHERE run_id = ?", [run_id]).set_index("name")


def _split(store: AuditStore, run_id: str):
    return store.query("SELECT * FROM run_metrics WHERE run_id = ?", [run_id]).iloc[0]


# -- the view model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["auto", "both"])
def test_section_equals_the_tables(runs, which):
    run_id = getattr(runs, which)
    section = load_run(runs.store, run_id).models
    table = _candidates(runs.store, run_id)
    assert sorted(c.name for c in section.candidates) == sorted(table.index)
    for c in section.candidates:
        assert c.log_loss == pytest.approx(table.loc[c.name, "log_loss"])
        assert c.accuracy == pytest.approx(table.loc[c.name, "accuracy"])
        assert c.seconds == pytest.approx(table.loc[c.name, "seconds"])
        assert c.chosen == table.loc[c.name, "chosen"]
        assert c.in_mean == (None if c.is_mean else bool(table.loc[c.name, "in_mean"]))
    if section.has_mean:  # named by what it averages
        members = [c.title.lower() for c in section.candidates if c.in_mean]
        assert len(members) >= 2 and all(m in section.mean_title for m in members)
    assert section.candidates[0].chosen and sum(c.chosen for c in section.candidates) == 1  # chosen first
    assert section.criterion == table["criterion"].iloc[0] and section.criterion_text
    metrics = _split(runs.store, run_id)
    assert section.model == metrics["model"] == section.chosen.name
    assert section.flag_rule == which.replace("auto", "confident_learning") == metrics["flag_rule"]
    assert (section.both, section.cl_only, section.neighbours_only) == (
        metrics["flagged_by_both"],
        metrics["flagged_by_cl_only"],
        metrics["flagged_by_neighbours_only"],
    )
    scores = runs.store.query("SELECT * FROM scores WHERE run_id = ?", [run_id]).set_index("row_id")
    assert section.cl_only == int((scores["cl_issue"] & ~scores["knn_disagrees"]).sum())
    assert len(section.cl_only_rows) == min(section.cl_only, MAX_OPINION_ROWS)
    assert len(section.neighbours_only_rows) == min(section.neighbours_only, MAX_OPINION_ROWS)
    assert section.cl_only_rows or section.neighbours_only_rows, "the noisy batch has rows the two disagree on"
    for r in section.cl_only_rows:
        assert scores.loc[r.row_id, "cl_issue"] and not scores.loc[r.row_id, "knn_disagrees"]
        assert r.knn_agreement == pytest.approx(scores.loc[r.row_id, "knn_agreement"])
    for r in section.neighbours_only_rows:
        assert not scores.loc[r.row_id, "cl_issue"] and scores.loc[r.row_id, "knn_disagrees"]
    qualities = [r.label_quality for r in section.cl_only_rows]
    agreements = [r.knn_agreement for r in section.neighbours_only_rows]
    assert qualities == sorted(qualities) and agreements == sorted(agreements)  # the worst first


def test_flagged_rows_carry_the_knn_agreement(runs):
    table = load_run(runs.store, runs.both).flagged
    assert table.knn and table.columns[6] == KNN_COLUMN and table.fixed_count == 7
    assert table.formats[6].kind == "float"
    scores = runs.store.query("SELECT row_id, knn_agreement FROM scores WHERE run_id = ? AND is_issue", [runs.both])
    expected = dict(zip(scores["row_id"], scores["knn_agreement"], strict=True))
    assert len(table.rows) == len(expected) > 0
    for row in table.rows:
        assert row[6] == pytest.approx(expected[row[1]])
        assert row[6] < 0.5  # "both": every flag has neighbours that mostly disagree with the label


def test_older_run_has_no_section_and_no_column(runs):
    view = load_run(runs.store, runs.old)
    assert view.models is None
    assert KNN_COLUMN not in view.flagged.columns and view.flagged.fixed_count == 6


def test_artifact_line_names_the_choice_and_the_split(runs):
    line = model_line(runs.store, runs.auto)
    table = _candidates(runs.store, runs.auto)
    chosen = table.index[table["chosen"]].item()
    assert line.startswith(f"auto chose {chosen} (log-loss {table.loc[chosen, 'log_loss']:.4f}")
    assert all(name in line for name in table.index)
    metrics = _split(runs.store, runs.auto)
    assert f"flag rule confident_learning: {metrics['flagged']} flagged" in line
    assert f"to confident learning only {metrics['flagged_by_cl_only']}" in line
    assert f"**Model:** {line}" in render_summary(run_summary(runs.store, runs.auto), None, None, line)
    assert model_line(runs.store, runs.old) is None
    assert "Model:" not in render_summary(run_summary(runs.store, runs.old), None)


# -- the page, in Chromium -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(runs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("published-models") / "reports"
    out = {name: publish_run(runs.store, getattr(runs, name), destination=root) for name in ("old", "auto", "both")}
    return {k: root / v.relative_path for k, v in out.items()}


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_section_shows_the_tables_numbers(visit, pages, runs, screenshots, viewport):
    from tests.report.conftest import VIEWPORTS

    seen = visit(pages["both"].as_uri(), viewport)
    page = seen.page
    page.locator("#models").screenshot(path=str(screenshots / f"models-{viewport}.png"))
    table = _candidates(runs.store, runs.both)
    for name, row in table.iterrows():
        line = page.locator(f'table.model-candidates tr[data-candidate="{name}"]')
        assert line.locator("[data-log-loss]").inner_text() == f"{row['log_loss']:,.4f}"
        assert line.locator("[data-accuracy]").inner_text() == f"{row['accuracy'] * 100:.2f}%"
        assert (line.get_attribute("class") == "chosen") == row["chosen"]
        section = load_run(runs.store, runs.both).models
        title = section.mean_title if name == "candidates_mean" else MODEL_NAMES[name]
        assert line.locator("th").inner_text() == title
        assert ("✓ used" in line.inner_text()) == row["chosen"]
    chosen = page.locator("table.model-candidates tr.chosen")
    assert chosen.count() == 1 and chosen.get_attribute("data-candidate") == table.index[table["chosen"]].item()
    metrics = _split(runs.store, runs.both)
    for key, column in (("both", "flagged_by_both"), ("cl_only", "flagged_by_cl_only")):
        cell = page.locator(f'table.opinion-split tr[data-split="{key}"] td')
        assert cell.inner_text() == f"{metrics[column]:,}"
    knn_only = page.locator('table.opinion-split tr[data-split="neighbours_only"] td')
    assert knn_only.inner_text() == f"{metrics['flagged_by_neighbours_only']:,}"
    assert page.locator("[data-flag-rule]").inner_text() == "both"
    heads = page.locator("#flagged-table thead th").all_inner_texts()
    assert heads[6] == KNN_COLUMN
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"] + 1, "the page scrolls sideways (only tables may)"
    seen.assert_clean()


@pytest.mark.browser
def test_csv_download_holds_the_knn_column(visit, pages, runs, tmp_path):
    seen = visit(pages["both"].as_uri())
    with seen.page.expect_download() as info:
        seen.page.locator("#download-all").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    with target.open(encoding="utf-8-sig", newline="") as handle:
        header, *body = list(csv.reader(handle))
    assert header[:7] == ["rank", "id", "given", "suggested", "score", "suggested prob", KNN_COLUMN]
    scores = runs.store.query("SELECT row_id, knn_agreement FROM scores WHERE run_id = ? AND is_issue", [runs.both])
    expected = dict(zip(scores["row_id"], scores["knn_agreement"], strict=True))
    assert {r[1]: pytest.approx(float(r[6])) for r in body} == expected
    seen.assert_clean()


@pytest.mark.browser
def test_no_section_and_no_column_for_an_older_run(visit, pages):
    seen = visit(pages["old"].as_uri())
    assert seen.page.locator("#models").count() == 0
    assert KNN_COLUMN not in seen.page.locator("#flagged-table thead").inner_text()
    seen.assert_clean()
