"""The score-probabilities flow: one big table of probabilities from your own model, scored out of core.

ingest (metadata only) → checks (DuckDB over the Parquet file) → confident learning in four streamed passes →
gate → report. The same verdict, gate, tables and report as the audit flow, for tables too big for pandas: the
file is never loaded whole, and memory stays within ``memory_budget`` whatever the number of rows.

Read it as a script: each step is a task from ``tasks/``; the logic lives in ``labelaudit.pipeline.streamed``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from labelaudit.flows.outcome import failures_recorded, judge_and_publish, verdict_state
from labelaudit.tasks.outofcore import check_probabilities, ingest_metadata, score_out_of_core
from labelaudit.tasks.runs import start_run
from prefect import flow
from prefect.runtime import flow_run
from prefect.states import State

from labelaudit.inputs.preflight import load_bundle
from labelaudit.pipeline.probability_table import duckdb_memory_limit
from labelaudit.settings import Settings, parse_bytes
from labelaudit.store import AuditStore


# Over 60 lines: the signature and docstring (32) are the parameters' help in the Prefect UI; the body is one
# script (40).
@flow(name="score-probabilities", flow_run_name="score-{dataset}", log_prints=False)
def score_probabilities(
    dataset: str,
    source: str,
    id_column: str | None = None,
    label_column: str | None = None,
    thresholds: dict[str, Any] | None = None,
    run_id: str | None = None,
    database: str | None = None,
    reports: str | None = None,
    expectations: str | None = None,
    memory_budget: str | None = None,
    workdir: str | None = None,
) -> State:
    """Score one big Parquet table of model probabilities out of core and gate it on the dataset's thresholds.

    Args:
        dataset: Name of the dataset definition in the expectations folder; its classes name the probability
            columns (in order), its label and id columns are the table's unless overridden below.
        source: Parquet file with an id column, the given label and one probability column per class, e.g.
            /data/model_run_42/probs.parquet; tens or hundreds of millions of rows are fine.
        id_column: Id column of the table; default the definition's id_column (row numbers when it has none).
        label_column: Given-label column of the table; default the definition's label_column.
        thresholds: Overrides of quality.json for this run, e.g. {"max_label_error_rate": 0.05}.
        run_id: Re-run this run id (its earlier output is replaced); default a new id.
        database: DuckDB file; default LABELAUDIT_DB or ./labelaudit.duckdb.
        reports: Folder or fsspec URL reports are published to; default LABELAUDIT_REPORTS or ./reports.
        expectations: Folder of dataset definitions; default LABELAUDIT_EXPECTATIONS or ./expectations.
        memory_budget: Memory the scoring may use, e.g. "2GiB" (sets the batch size and DuckDB's memory limit);
            default LABELAUDIT_MEMORY_BUDGET or 2 GiB.
        workdir: Folder for temporary files (per-row results before they are stored, a spill of 4-8 bytes per
            row); default the system's temporary folder. Needs about 25 bytes per row free.
    """
    settings = Settings().with_overrides(database=database, reports_dir=reports, expectations_dir=expectations)
    budget = parse_bytes(memory_budget) if memory_budget is not None else settings.memory_budget
    store = AuditStore(settings.database, lock_timeout=settings.lock_timeout, memory_limit=duckdb_memory_limit(budget))
    bundle = load_bundle(settings, dataset, thresholds=thresholds)
    params = {
        "dataset": dataset,
        "source": source,
        "probabilities": source,
        "scoring_path": "out-of-core",
        "id_column": id_column or bundle.definition.id_column,
        "label_column": label_column or bundle.definition.label_column,
        "thresholds": bundle.quality.model_dump(),
        "filter_by": bundle.definition.filter_by,
        "label_type": bundle.definition.label_type,
        "memory_budget": budget,
    }
    run_id = start_run(store, dataset, source, params, run_id, flow_run.get_id())
    staging = Path(tempfile.mkdtemp(prefix="labelaudit-score-", dir=workdir))
    try:
        with failures_recorded(store, run_id, settings):
            table = ingest_metadata(store, run_id, source, bundle, id_column, label_column, budget)
            checks = check_probabilities(store, run_id, table, staging)
            scored = score_out_of_core(store, run_id, table, checks, bundle, staging)
            verdict, published = judge_and_publish(store, run_id, scored, bundle, settings)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return verdict_state(run_id, verdict, published)
