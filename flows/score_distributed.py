"""The score-distributed flow (``labelaudit score --engine dask``): a Parquet dataset scored on a Dask cluster.

ingest (footers) → checks (footers; values in the first pass) → exact confident learning as map-reduce passes
on the workers → gate → report. The same definitions, gate, verdict, tables, report and artifacts as the
score-probabilities flow; every row's result is committed as partitioned Parquet beside the report (or at
``results``), the DuckDB file keeps the flagged rows and the view ``rows_<run id>`` over all of them.

Read it as a script: each step is one coarse task from ``tasks/`` (never one per partition); the cluster is
opened here (a local loopback one of ``workers`` processes, or the scheduler at ``address``) and closed on every
way out, an interrupt included; the logic lives in ``labelaudit.pipeline.streamed_distributed``.
"""

from __future__ import annotations

import os
from typing import Any

from labelaudit.flows.outcome import failures_recorded, judge_and_publish, verdict_state
from labelaudit.tasks.runs import start_run
from labelaudit.tasks.scale import check_footers, ingest_partitions, score_distributed
from prefect import flow
from prefect.runtime import flow_run
from prefect.states import State

from labelaudit.inputs.preflight import load_bundle
from labelaudit.scale.dask_engine import dask_executor
from labelaudit.settings import Settings
from labelaudit.store import AuditStore


def results_location(reports_dir: Any, dataset: str, run_id: str, results: str | None) -> str:
    """Where the run's per-row Parquet goes: ``results`` (an fsspec URL or folder), else beside its report."""
    if results:
        base = results if "://" in results else os.path.abspath(results)
        return f"{base.rstrip('/')}/{dataset}/{run_id}"
    base = str(reports_dir) if "://" in str(reports_dir) else os.path.abspath(reports_dir)
    return f"{base.rstrip('/')}/{dataset}/{run_id}/results"


# Over 60 lines: the signature and docstring (30) are the parameters' help in the Prefect UI; the body is one
# script (38).
@flow(name="score-distributed", flow_run_name="score-{dataset}", log_prints=False)
def score_distributed_flow(
    dataset: str,
    source: str,
    id_column: str | None = None,
    label_column: str | None = None,
    thresholds: dict[str, Any] | None = None,
    run_id: str | None = None,
    database: str | None = None,
    reports: str | None = None,
    expectations: str | None = None,
    workers: int = 2,
    address: str | None = None,
    results: str | None = None,
    partition_rows: int = 1 << 20,
) -> State:
    """Score a Parquet dataset of model probabilities on Dask, exactly, and gate it on the dataset's thresholds.

    Args:
        dataset: Name of the dataset definition; its classes name the probability columns, in order.
        source: Parquet dataset: a file, a folder (read recursively), a glob or an fsspec URL, e.g.
            s3://bucket/probs/*.parquet. Every worker must be able to read it.
        id_column: Id column; default the definition's id_column (row numbers when it has none).
        label_column: Given-label column; default the definition's label_column.
        thresholds: Overrides of quality.json for this run, e.g. {"max_label_error_rate": 0.05}.
        run_id: Re-run this run id (its earlier output is replaced); default a new id.
        database: DuckDB file; default LABELAUDIT_DB or ./labelaudit.duckdb.
        reports: Folder or fsspec URL reports are published to; default LABELAUDIT_REPORTS or ./reports.
        expectations: Folder of dataset definitions; default LABELAUDIT_EXPECTATIONS or ./expectations.
        workers: Worker processes of the local Dask cluster (one thread each); ignored with address.
        address: Scheduler of an existing Dask cluster, e.g. tcp://scheduler:8786 (left running afterwards).
        results: Where the per-row Parquet results go (folder or fsspec URL every worker can write); default
            beside the run's report.
        partition_rows: Rows per partition (whole row groups); a worker's memory is about
            partition_rows x (3 K s + 120) bytes (docs/operations.md).
    """
    settings = Settings().with_overrides(database=database, reports_dir=reports, expectations_dir=expectations)
    store = AuditStore(settings.database, lock_timeout=settings.lock_timeout)
    bundle = load_bundle(settings, dataset, thresholds=thresholds)
    params = {
        "dataset": dataset,
        "source": source,
        "probabilities": source,
        "scoring_path": "distributed",
        "engine": "dask",
        "address": address,
        "workers": None if address else workers,
        "id_column": id_column or bundle.definition.id_column,
        "label_column": label_column or bundle.definition.label_column,
        "thresholds": bundle.quality.model_dump(),
        "filter_by": bundle.definition.filter_by,
        "label_type": bundle.definition.label_type,
        "partition_rows": partition_rows,
    }
    run_id = start_run(store, dataset, source, params, run_id, flow_run.get_id())
    where = results_location(settings.reports_dir, dataset, run_id, results)
    with failures_recorded(store, run_id, settings):
        table = ingest_partitions(store, run_id, source, bundle, id_column, label_column, partition_rows)
        check_footers(store, run_id, table)
        with dask_executor(address, workers=workers) as executor:
            scored = score_distributed(store, run_id, table, bundle, executor, where, f"{where}/_work")
        verdict, published = judge_and_publish(store, run_id, scored, bundle, settings)
    return verdict_state(run_id, verdict, published)
