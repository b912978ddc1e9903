"""The last line Prefect logs for an audit links the report with a URL that opens (issue 16).

Prefect logs the flow's final state as ``Finished in state Completed('<message>')``; the UI turns the URL in it
into a link that runs until the next whitespace, so a message ending with the URL linked ``.../index.html'``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from labelaudit.flows.audit import audit

from tests.conftest import Project

BASE_URL = "http://127.0.0.1:8765/"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def flow_log():
    logger = logging.getLogger("prefect.flow_runs")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("batch", ["penguins_batch.csv", "penguins_noisy.csv"])  # Completed, then Failed
def test_final_log_line_links_the_report(project: Project, flow_log, monkeypatch, batch) -> None:
    monkeypatch.setenv("LABELAUDIT_REPORT_BASE_URL", BASE_URL)
    state = audit(
        dataset="penguins",
        source=str(project.data / "penguins" / batch),
        folds=3,
        database=str(project.database),
        reports=str(project.reports),
        expectations=str(project.expectations),
        data_docs=False,
        return_state=True,
    )
    final = [line for line in flow_log if line.startswith("Finished in state")]
    assert len(final) == 1, flow_log
    links = re.findall(r"https?://\S+", final[0])  # what a linkifier takes: up to the next whitespace
    assert len(links) == 1, final[0]
    assert links[0].endswith("/index.html"), f"the link in the last log line does not open: {links[0]!r}"
    page = project.reports / links[0].removeprefix(BASE_URL)
    assert Path(page).is_file()
    assert state.is_completed() == (batch == "penguins_batch.csv")
