"""One real DuckDB file with several runs, built once per session (the report tests only read it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from labelaudit.report import PublishedReport, publish_run
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
    accepted = build_run(store, dataset="reviews", run_id="20261101-090000-aaaaaa", rows=800, flagged=30,
                         classes=CLASSES, noise=0.04, seed=1, started_at=day(0))
    rejected = build_run(store, dataset="reviews", run_id="20261102-090000-bbbbbb", rows=900, flagged=140,
                         classes=CLASSES, noise=0.2, seed=2, started_at=day(1))
    failed = build_run(store, dataset="reviews", run_id="20261103-090000-cccccc", rows=500, flagged=0,
                       classes=CLASSES, seed=3, started_at=day(2), fail_validation=True)
    hostile = build_run(store, dataset="reviews", run_id="20261104-090000-dddddd", rows=1500, flagged=150,
                        classes=[*CLASSES, HOSTILE_LABEL], noise=0.07, seed=4, started_at=day(3), hostile=True,
                        gate={"max_label_error_rate": 0.10, "max_flagged_rate": 0.2, "min_oof_accuracy": 0.6})
    big = build_run(store, dataset="big-corpus", run_id="20261105-090000-eeeeee", rows=30_000, flagged=10_000,
                    classes=CLASSES, noise=0.3, seed=5, started_at=day(4), text_chars=160)
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
        reports[name] = publish_run(audit.store, run.run_id, destination=root,
                                    data_docs_dir=docs if name == "hostile" else None)
    return PublishedFixture(root, reports)
