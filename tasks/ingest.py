"""Ingest and schema-validation tasks."""

from __future__ import annotations

from pathlib import Path

from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle, check_suite
from labelaudit.inputs.gx_suite import SuiteOutcome
from labelaudit.inputs.readers import ReadOptions
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.ingest import ingest as ingest_batch
from labelaudit.pipeline.validate import validate
from labelaudit.store import AuditStore


@task(
    name="ingest",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def ingest(
    store: AuditStore, run_id: str, source: str, bundle: DatasetBundle, options: ReadOptions | None = None
) -> Batch:
    """Read and store the batch; the log line says how it was read (format, and any delimiter or encoding)."""
    batch = ingest_batch(store, run_id, source, bundle, options)
    get_run_logger().info(
        "ingested %d rows x %d columns from %s (%s, sha256 %s)",
        len(batch.frame),
        batch.frame.shape[1],
        batch.source.path,
        batch.source.format,
        batch.source.sha256[:12],
    )
    return batch


@task(
    name="validate-schema",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def validate_schema(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, data_docs_dir: Path | None
) -> SuiteOutcome:
    """Schema failures are data errors: not retried, the run stops here with every failed expectation listed.

    The suite is checked first: Great Expectations would skip an expectation it cannot build with only a log.
    """
    check_suite(bundle.suite, bundle.folder / "suite.json")
    outcome = validate(store, run_id, batch, bundle, data_docs_dir=data_docs_dir)
    get_run_logger().info("schema: all %d expectations of suite %r met", len(outcome.outcomes), outcome.suite_name)
    return outcome
