"""The reports of multi-label and token runs in headless Chromium: per-tag / per-entity-type rates, which tag
is missing or extra, the sentence with the suspicious token highlighted, and hostile token text escaped.

Screenshots go to ``test-artifacts/screenshots/sequences-*.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.flow.helpers import query
from tests.report.conftest import SCREENSHOTS, VIEWPORTS
from tests.sequences.conftest import audit
from tests.sequences.test_audit_samples import _token_probability_file

pytestmark = pytest.mark.browser

HOSTILE = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '"><b>bold</b><mark>',
)
HOSTILE_CONTEXT = "</mark><script>window.__xss=3</script>"


@dataclass
class Seen:
    page: object
    url: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console == [], self.console
        assert self.dialogs == [], self.dialogs
        assert [r for r in self.requests if r != self.url] == []


@pytest.fixture
def visit(browser):
    contexts = []

    def open_page(path: str, viewport: str = "desktop") -> Seen:
        context = browser.new_context(viewport=VIEWPORTS[viewport])
        contexts.append(context)
        page = context.new_page()
        seen = Seen(page, Path(path).as_uri())
        page.on("console", lambda m: seen.console.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
        page.on("request", lambda r: seen.requests.append(r.url))
        page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
        page.goto(seen.url)
        page.wait_for_load_state("load")
        return seen

    yield open_page
    for context in contexts:
        context.close()


def _shot(page, name: str, selector: str | None = None, max_height: float = 1600) -> None:
    """A screenshot of the page, or of the top of ``selector`` (at most ``max_height`` pixels of it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"sequences-{name}.png")
    if selector is None:
        page.screenshot(path=path)
        return
    box = page.locator(selector).first.bounding_box()
    scroll = page.evaluate("({x: window.scrollX, y: window.scrollY})")
    clip = {"x": box["x"] + scroll["x"], "y": box["y"] + scroll["y"], "width": box["width"]}
    page.screenshot(path=path, full_page=True, clip={**clip, "height": min(box["height"], max_height)})


def test_tags_report_shows_missing_and_extra_tags(visit, seq_project, tags_run):
    seen = visit(tags_run.summary["report"])
    page = seen.page
    section = page.locator("#sequences")
    assert section.locator("h2").inner_text().startswith("Tags")
    assert section.locator("figure svg.chart-wide").count() == 1  # the per-tag issue-rate bars (and a phone drawing)
    assert section.locator("table.tag-summary tbody tr").count() == 6
    flagged = int(tags_run.summary["flagged_rows"])
    rows = section.locator("table.tag-issues tbody tr")
    assert rows.count() == min(flagged, 200)
    first = query(
        seq_project.database,
        """SELECT s.row_id, d.kind, d.item FROM scores s JOIN label_issue_details d USING (run_id, row_idx)
           WHERE s.run_id = ? AND s.issue_rank = 1""",
        [tags_run.run_id],
    ).iloc[0]
    assert f"{first['kind']}: {first['item']}" in rows.first.inner_text()
    assert first["row_id"] in rows.first.inner_text()
    _shot(page, "tags-section", "#sequences")
    _shot(page, "tags-page")
    seen.assert_clean()


def test_ner_report_highlights_the_suspicious_token(visit, seq_project, ner_run):
    seen = visit(ner_run.summary["report"])
    page = seen.page
    section = page.locator("#sequences")
    assert section.locator("h2").inner_text().startswith("Tokens")
    assert section.locator("table.type-summary tbody tr").count() == 4
    top = query(
        seq_project.database,
        "SELECT row_id, item, given, suggested FROM label_issue_details WHERE run_id = ? ORDER BY detail_rank LIMIT 5",
        [ner_run.run_id],
    )
    for row in top.itertuples():
        sentence = section.locator(f'li.flagged-sentence[data-row-id="{row.row_id}"]')
        marks = [m.strip() for m in sentence.locator("p.sentence mark").all_inner_texts()]
        assert row.item in marks
        assert f"{row.given} → {row.suggested}" in sentence.locator("ul.token-issues").inner_text()
    assert section.locator("li.flagged-sentence").count() == int(ner_run.summary["flagged_rows"])
    section.locator("li.flagged-sentence").first.scroll_into_view_if_needed()
    _shot(page, "ner-section", "#sequences")
    seen.assert_clean()
    phone = visit(ner_run.summary["report"], "phone")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"] + 1
    phone.assert_clean()


@pytest.fixture(scope="module")
def hostile_run(seq_project, ner_run, tmp_path_factory):
    """The NER batch with hostile text in place of the most suspicious tokens, scored from the same
    probabilities (bring your own), so exactly those tokens are flagged and highlighted."""
    folder = tmp_path_factory.mktemp("hostile")
    db = seq_project.database
    top = query(
        db, "SELECT row_idx, position FROM label_issue_details WHERE run_id = ? ORDER BY detail_rank LIMIT 3",
        [ner_run.run_id],
    )  # fmt: skip
    frame = pd.read_csv(seq_project.data / "ner" / "ner.csv", dtype=str)
    for (row_idx, position), text in zip(top.itertuples(index=False), HOSTILE, strict=True):
        tokens = json.loads(frame.at[row_idx, "tokens"])
        tokens[position] = text
        if text == HOSTILE[0]:
            tokens[(position + 1) % len(tokens)] = HOSTILE_CONTEXT
        frame.at[row_idx, "tokens"] = json.dumps(tokens)
    source = folder / "ner_hostile.csv"
    frame.to_csv(source, index=False)
    probs = _token_probability_file(db, ner_run.run_id, folder / "probs.csv")
    run = audit(seq_project, source, "ner", "--probabilities", str(probs))
    assert run.exit_code == 0, run.stderr
    return run


def test_hostile_tokens_are_escaped(visit, hostile_run, seq_project):
    seen = visit(hostile_run.summary["report"])
    page = seen.page
    section = page.locator("#sequences")
    marks = section.locator("p.sentence mark").all_inner_texts()
    for text in HOSTILE:
        assert text in marks, text
    assert section.get_by_text(HOSTILE_CONTEXT, exact=False).count() >= 1
    assert section.locator("img, script, b, p.sentence mark mark").count() == 0
    assert page.evaluate("window.__xss") is None
    stored = query(seq_project.database, "SELECT item FROM label_issue_details WHERE run_id = ?", [hostile_run.run_id])
    assert set(HOSTILE) <= set(stored["item"])
    section.locator("li.flagged-sentence").first.scroll_into_view_if_needed()
    _shot(page, "ner-hostile", "ul.flagged-sentences", max_height=420)
    seen.assert_clean()
