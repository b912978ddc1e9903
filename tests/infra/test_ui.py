"""The real Prefect UI in headless Chromium: open the audit deployment, press Run, see the run complete.

Needs Debian's chromium (``apt-get install -y chromium``; ``.ci/run`` installs it) and the ``playwright`` Python
package; Playwright's own browser download does not work here, so the system browser is used.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.infra.conftest import ARTIFACTS, ServedProject
from tests.infra.helpers import api, deployment, wait_final

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ARTIFACTS / "screenshots"


def _runs_of(client, deployment_id: str) -> set[str]:
    response = client.post("/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})
    response.raise_for_status()
    return {r["id"] for r in response.json()}


@pytest.mark.skipif(not CHROMIUM.exists() and not shutil.which("chromium"), reason="chromium is not installed")
def test_quick_run_from_the_deployment_page(served: ServedProject) -> None:
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="the Prefect UI test needs Playwright: pip install playwright (or '.[test]')"
    )
    expect, sync_playwright = playwright.expect, playwright.sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui = served.server.url
    with api(served.server.api_url) as client:
        dep_id = deployment(client, "audit", "penguins-audit")["id"]
        before = _runs_of(client, dep_id)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )  # fmt: skip
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{ui}/deployments/deployment/{dep_id}", wait_until="networkidle")
                expect(page.get_by_text("penguins").first).to_be_visible(timeout=30_000)
                page.screenshot(path=str(SCREENSHOTS / "ui-deployment.png"))
                page.get_by_role("button", name="Run", exact=True).click()
                page.get_by_text("Quick run").click()
                # this UI shows the typed parameter form (descriptions, defaults) before starting the run
                form = page.get_by_role("dialog")
                expect(form.get_by_text("Cross-validation folds")).to_be_visible(timeout=15_000)
                page.screenshot(path=str(SCREENSHOTS / "ui-run-form.png"))
                form.get_by_role("button", name="Run", exact=True).click()

                deadline = time.monotonic() + 30
                while not (new := _runs_of(client, dep_id) - before) and time.monotonic() < deadline:
                    time.sleep(0.3)
                assert new, "pressing Quick run created no flow run"
                (run_id,) = new
                run = wait_final(client, run_id, timeout=180)

                page.goto(f"{ui}/runs/flow-run/{run_id}", wait_until="networkidle")
                expect(page.get_by_text("Completed").first).to_be_visible(timeout=30_000)
                expect(page.get_by_text(run["name"]).first).to_be_visible()
                page.screenshot(path=str(SCREENSHOTS / "ui-flow-run.png"), full_page=True)
            finally:
                browser.close()

    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert (SCREENSHOTS / "ui-flow-run.png").stat().st_size > 10_000
