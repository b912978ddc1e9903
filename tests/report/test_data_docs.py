"""The Great Expectations Data Docs a report links to: built by real GX from hostile data, published, read offline.

Every value of the batch and the suite that GX writes into a page must arrive as text (no script of the data
runs, from ``file://`` or over ``labelaudit reports serve``), and the pages must be styled and scripted from
the published folder alone, with every request that is not to that folder aborted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Thread

import pandas as pd
import pytest

from labelaudit.inputs.gx_suite import run_suite
from labelaudit.report import publish_run, report_server_url, serve_reports
from labelaudit.report.data_docs import ASSETS_FOLDER
from labelaudit.store import AuditStore
from tests.report.builders import HOSTILE_COLUMN, HOSTILE_ID, HOSTILE_LABEL, HOSTILE_TEXTS, build_run

LABELS = ["cat", "dog", HOSTILE_LABEL]
SCRIPTED = [t for t in HOSTILE_TEXTS if "<" in t] + [HOSTILE_LABEL, HOSTILE_ID, HOSTILE_COLUMN]


@dataclass(frozen=True)
class Docs:
    root: Path
    run_folder: Path
    pages: list[str]  # relative to root


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Docs:
    """A real GX validation of hostile data (values, ids, a column name, a label in the suite), published."""
    tmp = tmp_path_factory.mktemp("gx-hostile")
    frame = pd.DataFrame(
        {
            "id": [HOSTILE_ID, *(f"r{i}" for i in range(len(HOSTILE_TEXTS) + 1))],
            "label": ["cat", *HOSTILE_TEXTS, HOSTILE_LABEL],
            HOSTILE_COLUMN: range(len(HOSTILE_TEXTS) + 2),
        }
    )
    suite = {
        "name": "labelaudit-batch",
        "expectations": [
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "label", "value_set": LABELS}},
            {"type": "expect_column_to_exist", "kwargs": {"column": HOSTILE_COLUMN}},
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "id", "regex": "^r<[0-9]+$"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "<i>missing</i>"}},
        ],
    }
    outcome = run_suite(frame, suite, data_docs_dir=tmp / "gx")
    assert not outcome.success and outcome.data_docs == tmp / "gx" / "index.html"
    store = AuditStore(tmp / "db.duckdb")
    run = build_run(store, dataset="docs", run_id="r1", rows=40, flagged=3, classes=["a", "b"], seed=1)
    published = publish_run(store, run.run_id, destination=tmp / "reports", data_docs_dir=tmp / "gx")
    root = tmp / "reports"
    run_folder = Path(published.location).parent
    pages = sorted(p.relative_to(root).as_posix() for p in (run_folder / "gx").rglob("*.html"))
    assert len(pages) == 3  # index, the suite, the validation
    return Docs(root, run_folder, pages)


def test_every_data_value_is_escaped_and_every_page_has_a_policy_first(docs):
    for relative in docs.pages:
        page = (docs.root / relative).read_text(encoding="utf-8")
        for text in SCRIPTED:
            assert text not in page, f"{relative} holds {text!r} unescaped"
        head = page.index("<head>") + len("<head>")
        assert page[head:].lstrip().startswith('<meta http-equiv="Content-Security-Policy" content="default-src')
        assert not re.search(r"""<(?:script|link)\b[^>]*(?:src|href)=["']https?:""", page), relative
    validation = next(p for p in docs.pages if "/validations/" in p)
    assert "&lt;script&gt;alert(&quot;label&quot;)&lt;/script&gt;" in (docs.root / validation).read_text()


def test_the_published_docs_are_small_and_share_their_assets(docs):
    run_docs = docs.run_folder / "gx"
    assert not (run_docs / "static").exists(), "GX's 4 MB static folder is not published"
    size = sum(p.stat().st_size for p in run_docs.rglob("*") if p.is_file())
    assert size < 300_000, f"a run's Data Docs take {size} bytes"
    assets = docs.root / ASSETS_FOLDER
    assert (assets / "js" / "jquery.min.js").is_file() and (assets / "licenses" / "jquery-LICENSE.txt").is_file()


@pytest.fixture(scope="module")
def docs_server(docs) -> Iterator[str]:
    server = serve_reports(docs.root, port=0)
    Thread(target=server.serve_forever, daemon=True).start()
    yield report_server_url(server)
    server.shutdown()
    server.server_close()


def _page(docs: Docs, which: str) -> str:
    marker = {"index": "/gx/index.html", "suite": "/expectations/", "validation": "/validations/"}[which]
    return next(p for p in docs.pages if marker in p)


@pytest.mark.browser
@pytest.mark.parametrize("which", ["index", "suite", "validation"])
@pytest.mark.parametrize("origin", ["file", "http"])
def test_data_docs_work_offline_and_run_no_script_from_the_data(browser, docs, docs_server, origin, which):
    relative = _page(docs, which)
    url = (docs.root / relative).as_uri() if origin == "file" else docs_server + relative
    allowed = "file:" if origin == "file" else docs_server
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(allowed) else route.abort())
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # bootstrap-table renders the index's tables after load
        assert problems == [], f"{relative} ({origin}): {problems}"
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("typeof window.jQuery") == "function", "the vendored scripts did not load"
        assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
        assert page.evaluate("""document.fonts.load('900 16px "Font Awesome 6 Free"').then((f) => f.length)""") > 0
        if which == "validation":
            assert page.get_by_text(HOSTILE_LABEL, exact=True).count() >= 1
            assert page.get_by_text(HOSTILE_COLUMN, exact=True).count() >= 1
    finally:
        context.close()
