"""Publishing the HTML report and its index."""

from __future__ import annotations

from pathlib import Path

from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.report import PublishedReport, publish_run
from labelaudit.store import AuditStore
from labelaudit.store.database import utcnow


@task(
    name="publish-report",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def publish_report(
    store: AuditStore, run_id: str, destination: str, base_url: str | None, data_docs_dir: Path | None
) -> PublishedReport:
    started = utcnow()
    published = publish_run(store, run_id, destination=destination, base_url=base_url, data_docs_dir=data_docs_dir)
    store.set_report_path(run_id, published.location, started_at=started)
    get_run_logger().info("report: %s", published.url or published.location)
    return published
