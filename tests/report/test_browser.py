"""The published pages in headless Chromium (Debian's ``chromium``, driven by Playwright).

Every page is opened both from the file system (``file://``) and from :func:`serve_reports` on loopback, at a
desktop and a phone width. Each visit records console messages, page errors, dialogs and every request, and
fails on any error or any request other than the page itself. Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

# Without the Python package these tests are skipped with the way to install it, instead of failing collection.
expect = pytest.importorskip(
    "playwright.sync_api",
    reason="the report's browser tests need Playwright: pip install playwright (or pip install -e '.[test]'), "
    "and Debian's chromium (apt-get install -y chromium)",
).expect

from labelaudit.report import publish_run  # noqa: E402
from labelaudit.store import AuditStore  # noqa: E402
from tests.report.builders import HOSTILE_COLUMN, HOSTILE_ID, HOSTILE_LABEL, HOSTILE_TEXTS, LONG_TEXT  # noqa: E402
from tests.report.conftest import VIEWPORTS  # noqa: E402
from tests.report.measurements import build_measurements_run  # noqa: E402

pytestmark = pytest.mark.browser


def _url(published, served: str, origin: str, relative: str) -> str:
    if origin == "file":
        return (published.root / relative).as_uri()
    return served + relative


@pytest.mark.parametrize("origin", ["file", "http"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("which", ["index", "hostile", "failed"])
def test_pages_load_cleanly_offline(visit, published, served, screenshots, origin, viewport, which):
    relative = "index.html" if which == "index" else published.reports[which].relative_path
    seen = visit(_url(published, served, origin, relative), viewport)
    page = seen.page
    page.screenshot(path=str(screenshots / f"{which}-{origin}-{viewport}.png"), full_page=which != "hostile")
    if which == "hostile":
        page.locator("#flagged").screenshot(path=str(screenshots / f"{which}-flagged-{origin}-{viewport}.png"))
    assert page.evaluate("window.__xss") is None
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"] + 1, "the page scrolls sideways (only tables may)"
    seen.assert_clean()


def test_index_links_open_each_report(visit, published, served, audit):
    seen = visit(served + "index.html")
    page = seen.page
    for run in (audit.accepted, audit.failed, audit.big):
        page.locator(f'a[href="{run.dataset}/{run.run_id}/index.html"]').click()
        page.wait_for_load_state("load")
        assert page.url == f"{served}{run.dataset}/{run.run_id}/index.html"
        assert run.run_id in page.locator("header .subtitle").inner_text()
        page.locator("nav.crumbs a").click()
        page.wait_for_load_state("load")
    assert page.locator("table.runs tbody tr").count() == 5
    assert page.locator("svg.sparkline").count() == 2
    seen.requests = [r for r in seen.requests if r.startswith(served)]
    assert all(r.startswith(served) for r in seen.requests)
    assert [c for c in seen.console if "error" in c] == []


def test_hostile_values_render_as_text(visit, published):
    seen = visit(Path(published.reports["hostile"].location).as_uri())
    page = seen.page
    table = page.locator("#flagged-table")
    for text in HOSTILE_TEXTS:
        assert table.get_by_text(text, exact=True).count() >= 1, text
    assert table.get_by_text(HOSTILE_ID, exact=True).count() == 1
    assert table.locator("th", has_text=HOSTILE_COLUMN).count() == 1
    assert page.locator("table.classes th", has_text=HOSTILE_LABEL).count() == 1
    assert table.locator("img, b, i, script").count() == 0
    # the 5,000-character text is cut in the cell and whole on demand
    long_cell = table.locator("details.long").first
    assert long_cell.locator("summary").inner_text().endswith("…")
    assert not long_cell.locator(".full").is_visible()
    long_cell.locator("summary").click()
    assert long_cell.locator(".full").inner_text() == LONG_TEXT.strip()
    assert page.evaluate("window.__xss") is None
    seen.assert_clean()


def test_numbers_match_duckdb(visit, published, audit):
    seen = visit(Path(published.reports["hostile"].location).as_uri())
    page = seen.page
    m = audit.store.query("SELECT * FROM run_metrics WHERE run_id = ?", [audit.hostile.run_id]).iloc[0]
    assert page.locator('[data-metric="rows"]').inner_text() == f"{m['rows']:,}"
    assert page.locator('[data-metric="flagged"]').inner_text() == f"{m['flagged']:,}"
    assert (
        page.locator('[data-metric="estimated_error_rate"]').inner_text() == f"{m['estimated_error_rate'] * 100:.2f}%"
    )
    assert page.locator('[data-metric="oof_accuracy"]').inner_text() == f"{m['oof_accuracy'] * 100:.2f}%"
    classes = audit.store.query(
        "SELECT c.label, m.estimated_error_rate FROM class_metrics m JOIN classes c USING (run_id, label) "
        "WHERE run_id = ? ORDER BY c.class_idx",
        [audit.hostile.run_id],
    )
    shown = page.locator("table.classes tbody tr").all()
    assert [r.locator("th").inner_text() for r in shown] == classes["label"].tolist()
    assert [r.locator("[data-class-error]").inner_text() for r in shown] == [
        f"{v * 100:.2f}%" for v in classes["estimated_error_rate"]
    ]
    gate = audit.store.query("SELECT count(*) AS n FROM gate_results WHERE run_id = ?", [audit.hostile.run_id])
    assert page.locator("table.gate tbody tr").count() == gate["n"].iloc[0]
    flagged = audit.store.query(
        "SELECT row_id FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank LIMIT 100", [audit.hostile.run_id]
    )
    ids = page.locator("#flagged-table tbody tr td:nth-child(2)").all_inner_texts()
    assert ids == flagged["row_id"].tolist()
    seen.assert_clean()


def test_table_sorts_and_filters(visit, published, audit):
    seen = visit(Path(published.reports["hostile"].location).as_uri(), "phone")
    page = seen.page
    rows = page.locator("#flagged-table tbody tr")
    scores = lambda: [float(t) for t in page.locator("#flagged-table tbody td:nth-child(5)").all_inner_texts()]  # noqa: E731
    header = page.locator("#flagged-table thead th").nth(4)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert scores() == sorted(scores())
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    descending = scores()
    assert descending == sorted(descending, reverse=True) and descending[0] > 0.01
    # sort by a text column of the row's own fields
    page.locator("#flagged-table thead th", has_text="channel").locator("button").click()
    channels = page.locator("#flagged-table tbody td:nth-child(9)").all_inner_texts()
    assert channels == sorted(channels)

    page.locator("#flagged-filter").fill("onerror")
    expected = audit.store.query(
        """SELECT count(*) AS n FROM scores s JOIN ingested_rows r USING (run_id, row_idx)
           WHERE s.run_id = ? AND s.is_issue AND (lower(r.record::VARCHAR) LIKE '%onerror%'
                                                  OR lower(s.row_id) LIKE '%onerror%')""",
        [audit.hostile.run_id],
    )["n"].iloc[0]
    expect(rows).to_have_count(int(expected))
    assert expected == 4  # two texts, the hostile id, and the "onerror= note
    assert "of 4 matching" in page.locator("#flagged-status").inner_text()
    page.locator("#flagged-filter").fill("")
    expect(rows).to_have_count(100)
    page.locator("#flagged-given").select_option(HOSTILE_LABEL)
    given = page.locator("#flagged-table tbody td:nth-child(3)").all_inner_texts()
    n = audit.store.query(
        "SELECT count(*) AS n FROM flagged_rows WHERE run_id = ? AND given_label = ?",
        [audit.hostile.run_id, HOSTILE_LABEL],
    )["n"].iloc[0]
    assert set(given) == {HOSTILE_LABEL} and len(given) == n
    page.locator("#flagged-given").select_option("")
    page.locator("#flagged-filter").fill("no row contains this")
    expect(rows).to_have_count(0)
    assert "No flagged row matches" in page.locator("#flagged-status").inner_text()
    seen.assert_clean()


def test_csv_download_holds_the_flagged_rows(visit, published, audit, tmp_path, screenshots):
    seen = visit(Path(published.reports["hostile"].location).as_uri())
    page = seen.page
    with page.expect_download() as info:
        page.locator("#download-all").click()
    download = info.value
    assert download.suggested_filename == f"reviews-{audit.hostile.run_id}-flagged.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    shutil.copy(target, screenshots.parent / target.name)  # kept as a test artifact beside the screenshots
    with target.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    assert header[:6] == ["rank", "id", "given", "suggested", "score", "suggested prob"]
    assert header[6:] == ["text", "stars", "channel", HOSTILE_COLUMN]
    expected = audit.store.query(
        """SELECT s.issue_rank, s.row_id, s.given_label, s.suggested_label, s.label_quality, r.record
           FROM scores s JOIN ingested_rows r USING (run_id, row_idx)
           WHERE s.run_id = ? AND s.is_issue ORDER BY s.issue_rank""",
        [audit.hostile.run_id],
    )
    assert len(body) == len(expected) == 150
    for got, want in zip(body, expected.itertuples(index=False), strict=True):
        assert got[:4] == [str(want.issue_rank), want.row_id, want.given_label, want.suggested_label]
        assert float(got[4]) == pytest.approx(want.label_quality)
        record = json.loads(want.record)
        text = record["text"]
        assert got[6] == ("'" + text if text.startswith("=") else text)  # formulas are defused
    # the filtered download holds what the filter shows
    page.locator("#flagged-filter").fill("window.__xss")
    expect(page.locator("#download-filtered")).to_have_text("Download the 4 matching rows (CSV)")
    with page.expect_download() as info:
        page.locator("#download-filtered").click()
    filtered = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(filtered) == 1 + 4 and all("window.__xss" in ",".join(r) for r in filtered[1:])
    seen.assert_clean()


def test_ten_thousand_flagged_rows_stay_responsive(visit, published, audit, screenshots):
    location = Path(published.reports["big"].location)
    seen = visit(location.as_uri())
    page = seen.page
    timing = page.evaluate(
        "(() => { const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime; })()"
    )
    assert timing < 5000, f"the 10k-row report took {timing:.0f} ms to load"
    status = page.locator("#flagged-status")
    assert status.inner_text() == "Showing rows 1–100 of 10,000."
    assert page.locator("#flagged-table tbody tr").count() == 100
    page.locator("#flagged-pager [data-page=next]").click()
    assert status.inner_text() == "Showing rows 101–200 of 10,000."
    page.locator("#flagged-pager [data-page=last]").click()
    assert status.inner_text() == "Showing rows 9,901–10,000 of 10,000."
    assert page.locator("#flagged-page").inner_text() == "Page 100 of 100"
    # sorting and filtering all 10,000 rows takes well under a frame budget of a second
    elapsed = page.evaluate(
        """() => { const t0 = performance.now();
                   document.querySelectorAll('#flagged-table thead th button')[4].click();
                   return performance.now() - t0; }"""
    )
    assert elapsed < 1000, f"sorting 10k rows took {elapsed:.0f} ms"
    page.locator("#flagged-filter").fill("broken")
    expect(status).to_contain_text("matching")
    assert page.locator("#flagged-table tbody tr").count() == 100
    page.screenshot(path=str(screenshots / "big-10k-desktop.png"))
    seen.assert_clean()


def test_print_layout_hides_controls(visit, published, screenshots):
    seen = visit(Path(published.reports["hostile"].location).as_uri())
    page = seen.page
    page.emulate_media(media="print")
    assert not page.locator("#flagged-controls").is_visible()
    assert not page.locator("#flagged-pager").is_visible()
    assert page.locator("#figure-noise svg.chart-wide").is_visible()
    assert not page.locator("#figure-noise svg.chart-compact").is_visible()
    page.pdf(path=str(screenshots / "hostile-print.pdf"))
    seen.assert_clean()


# -- on a phone: nothing off-screen, nothing too small to read -------------------------------------------------

#: Every visible picture's text: its drawn size in CSS px (font size times the SVG's scale) and its box.
_CHART_TEXT = """() => [...document.querySelectorAll('svg.chart')]
  .filter(svg => svg.getBoundingClientRect().width > 0)
  .flatMap(svg => [...svg.querySelectorAll('text')].map(t => {
    const box = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(t.getAttribute('font-size')) * svg.getScreenCTM().a,
            left: box.left, right: box.right, figure: svg.closest('figure') ? svg.closest('figure').id : ''};
  }))"""


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_gate_table_and_charts_are_readable_without_scrolling(visit, published, screenshots, viewport):
    seen = visit(Path(published.reports["hostile"].location).as_uri(), viewport)
    page = seen.page
    width = VIEWPORTS[viewport]["width"]
    page.screenshot(path=str(screenshots / f"hostile-gate-and-charts-{viewport}.png"), full_page=True)
    cells = page.locator("table.gate tbody td")
    assert cells.count() == 6 * page.locator("table.gate tbody tr").count() > 0
    for box in (cells.nth(i).bounding_box() for i in range(cells.count())):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"a gate cell is off-screen: {box}"
    # the limit, measured value and result of each threshold are on screen and say what they are
    first = page.locator("table.gate tbody tr").first
    assert first.locator('td[data-label="Measured"]').inner_text().strip().endswith("%")
    assert first.locator('td[data-label="Result"]').is_visible()
    texts = page.evaluate(_CHART_TEXT)
    figures = {t["figure"] for t in texts}
    assert {"figure-noise", "figure-classes", "figure-scores", "figure-trend"} <= figures
    small = [t for t in texts if t["px"] < 10]
    assert small == [], f"chart text under 10 px at {width} px: {small[:5]}"
    outside = [t for t in texts if t["left"] < 0 or t["right"] > width]
    assert outside == [], f"chart text off-screen: {outside[:5]}"
    seen.assert_clean()


def test_flagged_rows_read_alike_on_every_page_and_after_sorting(visit, tmp_path):
    store = AuditStore(tmp_path / "audit.duckdb")
    run = build_measurements_run(store)
    report = publish_run(store, run.run_id, destination=tmp_path / "reports")
    seen = visit(Path(report.location).as_uri(), "phone")
    page = seen.page
    columns = page.locator("#flagged-table thead th").all_inner_texts()
    bill = columns.index("bill_length_mm") + 1
    mass = columns.index("body_mass_g") + 1

    def shown(column: int) -> set[str]:
        return set(page.locator(f"#flagged-table tbody td:nth-child({column})").all_inner_texts())

    assert shown(bill) == {"38.8", "42.0"}  # drawn by the script from the embedded rows
    assert all(v.isdigit() for v in shown(mass))
    page.locator("#flagged-table thead th").nth(bill - 1).locator("button").click()
    assert shown(bill) == {"38.8", "42.0"}
    seen.assert_clean()
