"""Tasks of the ``score-distributed`` flow (``labelaudit score --engine dask``): one task per stage.

A few coarse tasks, never one per partition: Prefect's UI and API do not cope with hundreds of thousands of task
runs. Each task runs on the driver (it holds the merged state, O(K^2 + issues)) and submits its per-partition
work to the Dask cluster through the library's executor (``labelaudit.scale.dask_engine``), one ``Client.map``
per pass. Not retried by Prefect: a pass whose worker died is rerun by Dask itself, and a pass that still fails
commits nothing (retrying the whole scoring would redo every pass).
"""

from __future__ import annotations

import time

from labelaudit.tasks.outofcore import log_scored
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.pipeline.streamed import OutOfCoreScore
from labelaudit.pipeline.streamed_distributed import (
    DistributedSource,
    ingest_dataset,
    score_dataset,
    validate_dataset,
)
from labelaudit.pipeline.validate import CheckResult
from labelaudit.store import AuditStore


@task(name="ingest-dataset", cache_policy=NO_CACHE)
def ingest_partitions(
    store: AuditStore,
    run_id: str,
    url: str,
    bundle: DatasetBundle,
    id_column: str | None,
    label_column: str | None,
    partition_rows: int,
) -> DistributedSource:
    source = ingest_dataset(
        store, run_id, url, bundle, id_column=id_column, label_column=label_column, partition_rows=partition_rows
    )
    get_run_logger().info(
        "%s: %d rows in %d files, %d partitions of about %d rows",
        url,
        source.table.rows,
        len(source.files),
        len(source.partitions),
        partition_rows,
    )
    return source


@task(name="check-footers", cache_policy=NO_CACHE)
def check_footers(store: AuditStore, run_id: str, source: DistributedSource) -> CheckResult:
    """Every file's columns and types; the values are checked by the workers in the first pass of scoring."""
    result = validate_dataset(store, run_id, source)
    get_run_logger().info("footer checks: all %d met over %d files", len(result.outcomes), len(source.files))
    return result


@task(name="score-distributed", cache_policy=NO_CACHE)
def score_distributed(
    store: AuditStore,
    run_id: str,
    source: DistributedSource,
    bundle: DatasetBundle,
    executor,
    results_url: str,
    work_url: str,
) -> OutOfCoreScore:
    """The exact passes on the cluster; the per-row Parquet committed; the tables and the run's view stored."""
    logger = get_run_logger()
    started = time.monotonic()
    logger.info("scoring %d partitions on %s (%d workers)", len(source.partitions), executor.name, executor.workers)
    scored = score_dataset(store, run_id, source, bundle, executor, results_url=results_url, work_url=work_url)
    log_scored(logger, scored, started, where=scored.run_metrics.iloc[0]["rows_url"])
    return scored
