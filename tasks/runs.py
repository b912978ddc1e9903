"""Tasks that open and close a run in the database."""

from __future__ import annotations

from typing import Any

from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.store import AuditStore


@task(
    name="start-run",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def start_run(
    store: AuditStore, dataset: str, source: str, params: dict[str, Any], run_id: str | None, flow_run_id: str | None
) -> str:
    """Register the run (re-running ``run_id`` if given) after marking runs of dead processes failed."""
    logger = get_run_logger()
    for stale in store.recover_stale_runs():
        logger.warning("run %s was left running by a process that no longer exists; marked failed", stale)
    run_id = store.begin_run(dataset=dataset, source=source, params=params, run_id=run_id, flow_run_id=flow_run_id)
    logger.info("run %s: auditing %s as dataset %r into %s", run_id, source, dataset, store.path)
    return run_id


@task(
    name="finish-run",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def finish_run(store: AuditStore, run_id: str, status: str, verdict: str | None, message: str | None) -> None:
    store.finish_run(run_id, status=status, verdict=verdict, message=message)
