"""One real DuckDB file with several runs, built once per session (the report tests only read it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from threading import Thread

import pytest

from labelaudit.report import PublishedReport, publish_run, report_server_url, serve_reports
from labelaudit.store import AuditStore
from tests.report.builders import HOSTILE_LABEL, BuiltRun, build_run, day

CLASSES = ["negative", "neutral", "positive"]


@dataclass(frozen=True)
class AuditFixture:
    store: AuditStore
    accepted: BuiltRun
    rejected: BuiltRun
    failed: BuiltRun
    hostile: BuiltRun
    big: BuiltRun


@pytest.fixture(scope="session")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditFixture:
    store = AuditStore(tmp_path_factory.mktemp("db") / "labelaudit.duckdb")
    accepted = build_run(
        store,
        dataset="reviews",
        run_id="20261101-090000-aaaaaa",
        rows=800,
        flagged=30,
        classes=CLASSES,
        noise=0.04,
        seed=1,
        started_at=day(0),
    )
    rejected = build_run(
        store,
        dataset="reviews",
        run_id="20261102-090000-bbbbbb",
        rows=900,
        flagged=140,
        classes=CLASSES,
        noise=0.2,
        seed=2,
        started_at=day(1),
    )
    failed = build_run(
        store,
        dataset="reviews",
        run_id="20261103-090000-cccccc",
        rows=500,
        flagged=0,
        classes=CLASSES,
        seed=3,
        started_at=day(2),
        fail_validation=True,
    )
    hostile = build_run(
        store,
        dataset="reviews",
        run_id="20261104-090000-dddddd",
        rows=1500,
        flagged=150,
        classes=[*CLASSES, HOSTILE_LABEL],
        noise=0.07,
        seed=4,
        started_at=day(3),
        hostile=True,
        gate={"max_label_error_rate": 0.10, "max_flagged_rate": 0.2, "min_oof_accuracy": 0.6},
    )
    big = build_run(
        store,
        dataset="big-corpus",
        run_id="20261105-090000-eeeeee",
        rows=30_000,
        flagged=10_000,
        classes=CLASSES,
        noise=0.3,
        seed=5,
        started_at=day(4),
        text_chars=160,
    )
    return AuditFixture(store, accepted, rejected, failed, hostile, big)


@dataclass(frozen=True)
class PublishedFixture:
    root: Path
    reports: dict[str, PublishedReport]


@pytest.fixture(scope="session")
def published(audit: AuditFixture, tmp_path_factory: pytest.TempPathFactory) -> PublishedFixture:
    """Every run of the fixture published to one local folder (with a small fake GX Data Docs site)."""
    root = tmp_path_factory.mktemp("published") / "reports"
    docs = tmp_path_factory.mktemp("gx-docs")
    (docs / "index.html").write_text("<!DOCTYPE html><title>Data Docs</title><p>GX Data Docs</p>", encoding="utf-8")
    (docs / "validations").mkdir()
    (docs / "validations" / "run.html").write_text("<p>validation</p>", encoding="utf-8")
    reports = {}
    for name in ("accepted", "rejected", "failed", "hostile", "big"):
        run = getattr(audit, name)
        reports[name] = publish_run(
            audit.store, run.run_id, destination=root, data_docs_dir=docs if name == "hostile" else None
        )
    return PublishedFixture(root, reports)


# -- the browser -----------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="package")  # not session: a live sync Playwright keeps an asyncio loop in this thread,
def browser() -> Iterator[object]:  # which would turn later suites' Prefect flow calls asynchronous
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Install it with "
            "`apt-get install -y chromium` (.ci/run does this); `playwright install` does not work here.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def served(published) -> Iterator[str]:
    server = serve_reports(published.root, port=0)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield report_server_url(server)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@dataclass
class Visit:
    """One page and everything it did."""

    page: object
    url: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console == [], f"console errors/warnings on {self.url}: {self.console}"
        assert self.dialogs == [], f"the page opened dialogs (script ran from the data?): {self.dialogs}"
        others = [r for r in self.requests if r != self.url and not r.startswith("blob:")]
        assert others == [], f"requests beyond the page itself: {others}"


@pytest.fixture
def visit(browser) -> Iterator[object]:
    contexts = []

    def open_page(url: str, viewport: str = "desktop") -> Visit:
        context = browser.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        seen = Visit(page, url)
        page.on(
            "console", lambda m: seen.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
        page.on("request", lambda r: seen.requests.append(r.url))
        page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.wait_for_load_state("load")
        return seen

    yield open_page
    for context in contexts:
        context.close()
