"""Rendering: every value from the data is escaped, the embedded JSON cannot end its script, nothing is fetched."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest

from labelaudit.report import json_for_script, load_index, load_run, render_index, render_run
from tests.report.builders import HOSTILE_COLUMN, HOSTILE_ID, HOSTILE_LABEL, HOSTILE_TEXTS


class _Scan(HTMLParser):
    """Collects tags, attributes and script bodies as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self._attrs: dict[str, str | None] = {}
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in, self._attrs, self._buf = tag, dict(attrs), []

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)

    def handle_endtag(self, tag):
        if tag == self._in:
            body = "".join(self._buf)
            if tag == "script":
                self.scripts.append((self._attrs, body))
            else:
                self.styles.append(body)
            self._in = None


def _scan(html: str) -> _Scan:
    scan = _Scan()
    scan.feed(html)
    return scan


@pytest.fixture(scope="module")
def hostile_html(audit) -> str:
    return render_run(load_run(audit.store, audit.hostile.run_id), data_docs_href="gx/index.html")


def test_hostile_values_never_become_markup(hostile_html):
    scan = _scan(hostile_html)
    # Only our two scripts (the data block and the app), one style, no element from the data.
    assert [a.get("type") for a, _ in scan.scripts] == ["application/json", None]
    assert len(scan.styles) == 1
    tags = {t for t, _ in scan.tags}
    assert "img" not in tags and "b" not in tags and "i" not in tags
    assert not any(k.startswith("on") for _, attrs in scan.tags for k in attrs)
    markup = hostile_html.replace(scan.scripts[0][1], "")  # the JSON data block is checked on its own below
    for raw in ("<script>alert(1)</script>", HOSTILE_LABEL, HOSTILE_ID, f"<th>{HOSTILE_COLUMN}", '"onerror='):
        assert raw not in markup  # raw text never appears unescaped
    assert "&#34;onerror=" in markup  # the first page of the table, rendered in HTML
    assert "&lt;b&gt;x&lt;/b&gt;" in hostile_html
    assert "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in hostile_html


def test_embedded_json_round_trips_and_cannot_close_its_script(hostile_html, audit):
    scan = _scan(hostile_html)
    attrs, body = scan.scripts[0]
    assert attrs["id"] == "flagged-data"
    assert "<" not in body and ">" not in body and "&" not in body
    data = json.loads(body)
    view = load_run(audit.store, audit.hostile.run_id)
    assert data["columns"] == view.flagged.columns
    assert data["rows"] == json.loads(json.dumps(view.flagged.rows))
    texts = [r[6] for r in data["rows"]]
    assert all(t in texts for t in HOSTILE_TEXTS)


@pytest.mark.parametrize(
    "value",
    ["</script><script>alert(1)</script>", "<!--", "a & b", "\u2028\u2029", {"k": "</SCRIPT >"}, [1.5, None, True]],
)
def test_json_for_script_escapes_the_html_significant_characters(value):
    text = str(json_for_script(value))
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == value


def test_json_for_script_refuses_nan():
    with pytest.raises(ValueError):
        json_for_script(float("nan"))


def test_page_allows_no_network_and_only_its_own_inline_code(hostile_html):
    scan = _scan(hostile_html)
    csp = next(a["content"] for t, a in scan.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "connect-src" not in csp  # default-src 'none' covers fetch/XHR
    digest = lambda text: base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()  # noqa: E731
    assert f"'sha256-{digest(scan.scripts[1][1])}'" in csp
    assert f"'sha256-{digest(scan.styles[0])}'" in csp
    # nothing refers to another resource: no src, no stylesheet links, no external URLs
    assert not any("src" in attrs for _, attrs in scan.tags)
    assert not any(t == "link" for t, _ in scan.tags)
    hrefs = [a["href"] for t, a in scan.tags if t == "a"]
    assert hrefs and all(not re.match(r"^[a-z]+:", h) for h in hrefs), hrefs
    assert "gx/index.html" in hrefs and "../../index.html" in hrefs


def test_report_sections_and_numbers(hostile_html, audit):
    view = load_run(audit.store, audit.hostile.run_id)
    assert 'id="verdict"' in hostile_html and ">Accepted" in hostile_html.replace("\n", "")
    assert f">{view.metrics.rows:,}<" in hostile_html
    assert f"{view.metrics.estimated_error_rate * 100:.2f}%" in hostile_html
    for figure in ("noise", "classes", "scores", "trend"):
        assert f'id="figure-{figure}"' in hostile_html
    assert hostile_html.count("<svg") == 8  # each picture drawn wide and compact (for phones)
    assert hostile_html.count('class="chart chart-wide"') == hostile_html.count('class="chart chart-compact"') == 4
    assert "@media print" in hostile_html


def test_failed_run_report_leads_with_the_failure(audit):
    html = render_run(load_run(audit.store, audit.failed.run_id))
    verdict = html[html.index('id="verdict"') : html.index("</section>")]
    assert "Failed" in verdict and "validate" in verdict and "[S04]" in verdict
    assert "&lt;script&gt;alert(&#39;gx&#39;)&lt;/script&gt;" in html  # a GX example value, escaped
    assert 'id="flagged-data"' not in html and "<svg" not in html


def test_index_page_escapes_and_links_only_what_is_given(audit):
    datasets = load_index(audit.store)
    html = render_index(datasets, {("reviews", audit.accepted.run_id): "reviews/x/index.html"})
    scan = _scan(html)
    assert not scan.scripts
    links = [a["href"] for t, a in scan.tags if t == "a" and not a["href"].startswith("#")]
    assert links == ["reviews/x/index.html"]
    assert html.count('class="sparkline"') == 2


@pytest.mark.parametrize("state", ["failed-at-ingest", "running"])
def test_runs_with_nothing_stored_still_render(tmp_path, state):
    from datetime import UTC, datetime

    from labelaudit.store import AuditStore

    store = AuditStore(tmp_path / "db.duckdb")
    run_id = store.begin_run(dataset="empty", source="/data/<missing>.csv", params={"folds": 5})
    if state == "failed-at-ingest":
        store.fail_stage(
            run_id, "ingest", started_at=datetime.now(UTC), message="file /data/<missing>.csv does not exist"
        )
    view = load_run(store, run_id)
    html = render_run(view)
    assert view.outcome == ("failed" if state == "failed-at-ingest" else "running")
    verdict = html[html.index('id="verdict"') : html.index("</section>")]
    if state == "failed-at-ingest":
        assert "Failed at stage “ingest”" in verdict and "&lt;missing&gt;.csv does not exist" in verdict
    else:
        assert "Still running" in verdict
    assert "The schema was not validated in this run" in html
    assert 'id="flagged"' not in html and "<svg" not in html


def test_flagged_rows_are_formatted_by_column_in_the_page(tmp_path):
    from labelaudit.store import AuditStore
    from tests.report.measurements import build_measurements_run

    store = AuditStore(tmp_path / "audit.duckdb")
    run = build_measurements_run(store)
    html = render_run(load_run(store, run.run_id))
    view = load_run(store, run.run_id)
    start = html.index("<tbody>", html.index('id="flagged-table"'))
    body = html[start : html.index("</tbody>", start)]
    rows = [re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    bill = view.flagged.columns.index("bill_length_mm")
    mass = view.flagged.columns.index("body_mass_g")
    assert rows and {r[bill] for r in rows} == {"38.8", "42.0"}  # not 38.8000 beside 42
    assert all(re.fullmatch(r"\d+", r[mass]) for r in rows)  # whole grams, no decimals
    assert all(re.fullmatch(r"\d\.\d{4}", r[4]) for r in rows)  # scores: four decimals
    data = json.loads(_scan(html).scripts[0][1])
    kinds = dict(zip(data["columns"], data["formats"], strict=True))
    assert kinds["bill_length_mm"] == {"kind": "float", "digits": 1}
    assert kinds["stars"] == {"kind": "int", "digits": 0} and kinds["score"] == {"kind": "float", "digits": 4}
