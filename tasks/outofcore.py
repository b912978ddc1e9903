"""Tasks of the ``score-probabilities`` flow: one big table of probabilities, scored out of core."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.pipeline.fit import prepare_streamed_fit
from labelaudit.pipeline.probability_table import ProbabilityTable
from labelaudit.pipeline.streamed import OutOfCoreScore, ingest_probability_table, score_probability_file
from labelaudit.pipeline.streamed_io import Progress
from labelaudit.pipeline.validate import CheckResult, validate_probability_table
from labelaudit.store import AuditStore

#: Seconds between progress lines while a pass streams the file.
PROGRESS_EVERY = 10.0
#: What each of the four passes over the file does (see labelaudit/cl/outofcore.py).
PASSES = {
    1: "validate, count labels, class thresholds",
    2: "confident joint",
    3: "select the rows to flag",
    4: "write per-row results",
}


@task(
    name="ingest-metadata",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def ingest_metadata(
    store: AuditStore,
    run_id: str,
    path: str,
    bundle: DatasetBundle,
    id_column: str | None,
    label_column: str | None,
    memory_budget: int,
) -> ProbabilityTable:
    table = ingest_probability_table(
        store, run_id, path, bundle, id_column=id_column, label_column=label_column, memory_budget=memory_budget
    )
    get_run_logger().info(
        "%s: %d rows, %d classes, %.1f MiB (sha256 %s); streamed in batches of %d rows",
        table.path,
        table.rows,
        len(table.classes),
        (table.source.bytes or 0) / 1024**2,
        table.source.sha256[:12],
        table.batch_rows,
    )
    return table


@task(
    name="check-probabilities",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def check_probabilities(store: AuditStore, run_id: str, table: ProbabilityTable, workdir: Path) -> CheckResult:
    """Schema, labels, ids and probability rows checked in DuckDB; failures stop the run (not retried)."""
    result = validate_probability_table(store, run_id, table, workdir=workdir)
    get_run_logger().info("checks: all %d met (DuckDB over the Parquet file)", len(result.outcomes))
    return result


def _progress_logger() -> Progress:
    logger = get_run_logger()
    last = {"time": time.monotonic(), "pass": 0}

    def report(pass_number: int, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if pass_number != last["pass"] or finished or now - last["time"] >= PROGRESS_EVERY:
            last.update(time=now, **{"pass": pass_number})
            share = f" ({100 * done / total:.0f}%)" if total else ""
            what = PASSES.get(pass_number, "")
            logger.info("pass %d of 4 (%s): %d of %d rows%s", pass_number, what, done, total, share)

    return report


@task(
    name="score-out-of-core",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def score_out_of_core(
    store: AuditStore,
    run_id: str,
    table: ProbabilityTable,
    checks: CheckResult,
    bundle: DatasetBundle,
    workdir: Path,
) -> OutOfCoreScore:
    """Record the fit as precomputed, stream the four passes, store every score table in one transaction."""
    logger = get_run_logger()
    prepare_streamed_fit(store, run_id, checks.label_counts)
    started = time.monotonic()
    scored = score_probability_file(store, run_id, table, bundle, workdir=workdir, progress=_progress_logger())
    log_scored(logger, scored, started)
    return scored


def log_scored(logger: Any, scored: OutOfCoreScore, started: float, where: str | None = None) -> None:
    """The score task's log lines, whatever engine scored: the renormalisation warning, then one summary line."""
    if scored.renormalised_warning:
        logger.warning("%s", scored.renormalised_warning)
    m = scored.run_metrics.iloc[0]
    logger.info(
        "%d of %d rows flagged (%s, ties: %s); estimated label-error rate %.2f%%; %.1f s%s",
        m["flagged"],
        m["rows"],
        m["method"],
        m["tie_rule"],
        100 * m["estimated_error_rate"],
        time.monotonic() - started,
        f"; rows in {where}" if where else "",
    )
