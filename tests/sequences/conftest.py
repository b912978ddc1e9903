"""Multi-label and token audits end to end through the real CLI, run once per module on the bundled samples."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, Project
from tests.flow.helpers import run_cli


@dataclass(frozen=True)
class Audited:
    """One CLI audit: its exit code, the --json summary and stderr."""

    exit_code: int
    summary: dict | None
    stderr: str

    @property
    def run_id(self) -> str:
        assert self.summary is not None, self.stderr
        return self.summary["run_id"]


def audit(project: Project, source: Path, dataset: str, *extra: str) -> Audited:
    result = run_cli(project, "audit", str(source), "--dataset", dataset, "--json", "--no-data-docs", *extra)
    text = result.stdout.strip()
    summary = json.loads(text[text.index("{") :]) if "{" in text else None
    return Audited(result.exit_code, summary, result.stderr)


class SequenceProject(Project):
    """A project folder with the tags and NER samples next to the penguins."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        for sample in ("tags", "ner"):
            shutil.copytree(REPO / "data" / sample, self.data / sample)


@pytest.fixture(scope="package")
def seq_project(tmp_path_factory: pytest.TempPathFactory) -> SequenceProject:
    return SequenceProject(tmp_path_factory.mktemp("sequences"))


@pytest.fixture(scope="package")
def tags_run(seq_project: SequenceProject) -> Audited:
    return audit(seq_project, seq_project.data / "tags" / "tags.csv", "tags")


@pytest.fixture(scope="package")
def ner_run(seq_project: SequenceProject) -> Audited:
    return audit(seq_project, seq_project.data / "ner" / "ner.csv", "ner")


# -- the browser (Debian's chromium, as in tests/report) -------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from tests.report.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`)", pytrace=False)
    sync_playwright = pytest.importorskip(
        "playwright.sync_api", reason="the browser tests need Playwright: pip install playwright (or '.[test]')"
    ).sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
