"""The recurring audit: find the batches of a source that no earlier run audited, and audit each one.

One run per new batch (see :mod:`labelaudit.inputs.batches` for why): each file becomes an ``audit`` subflow run with
its own verdict, artifacts and report, and its own row in ``run_metrics``/``class_metrics`` (the trend per
batch). When nothing is new the run is a no-op that says so in one log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelaudit.flows.audit import audit
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from labelaudit.inputs.batches import NewBatch, find_new_batches
from labelaudit.project_config import TaskRunnerConfig
from labelaudit.settings import Settings
from labelaudit.store import AuditStore


@task(
    name="find-new-batches",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def discover(store: AuditStore, dataset: str, source: str) -> list[NewBatch]:
    new = find_new_batches(store, dataset, source)
    logger = get_run_logger()
    if not new:
        logger.info("no new batch of %s in %s: every file was audited already, nothing to do", dataset, source)
    else:
        logger.info("%d new batch(es) of %s: %s", len(new), dataset, ", ".join(b.path.name for b in new))
    return new


@flow(name="audit-new-batches", flow_run_name="new-batches-{dataset}", log_prints=False)
def audit_new_batches(
    dataset: str,
    source: str,
    folds: int | None = None,
    model: str | None = None,
    thresholds: dict[str, Any] | None = None,
    database: str | None = None,
    reports: str | None = None,
    expectations: str | None = None,
    data_docs: bool = True,
    task_runner: TaskRunnerConfig | None = None,
) -> State:
    """Audit every file of the source that no earlier run of the dataset audited, one audit run per file.

    Args:
        dataset: Name of the dataset definition in the expectations folder (e.g. "penguins").
        source: A file or a glob of the batches delivered, e.g. /data/incoming/penguins/*.csv.
        folds: Cross-validation folds; default from the dataset definition.
        model: Classifier override: logistic_regression, hist_gradient_boosting or random_forest.
        thresholds: Overrides of quality.json, e.g. {"max_label_error_rate": 0.05}.
        database: DuckDB file; default LABELAUDIT_DB or ./labelaudit.duckdb.
        reports: Folder or fsspec URL reports are published to; default LABELAUDIT_REPORTS or ./reports.
        expectations: Folder of dataset definitions; default LABELAUDIT_EXPECTATIONS or ./expectations.
        data_docs: Build the Great Expectations Data Docs of each schema validation next to its report.
        task_runner: Where the folds run (see the audit flow); empty for threads, one per CPU.
    """
    settings = Settings().with_overrides(database=database, reports_dir=reports, expectations_dir=expectations)
    store = AuditStore(settings.database, lock_timeout=settings.lock_timeout)
    # -- what is new -------------------------------------------------------------------------------------------
    new = discover(store, dataset, source)
    if not new:
        return Completed(message=f"no new batch of {dataset} in {source}")
    # -- one audit run per batch, oldest name first --------------------------------------------------------------
    outcomes: list[tuple[NewBatch, State]] = []
    for batch in new:
        state = audit.with_options(flow_run_name=f"audit-{dataset}-{_short(batch.path)}")(
            dataset=dataset,
            source=str(batch.path),
            folds=folds,
            model=model,
            thresholds=thresholds,
            database=database,
            reports=reports,
            expectations=expectations,
            data_docs=data_docs,
            task_runner=task_runner,
            return_state=True,
        )
        outcomes.append((batch, state))
    # -- the verdict of the whole delivery -----------------------------------------------------------------------
    failed = [(b, s) for b, s in outcomes if not s.is_completed()]
    lines = [f"{b.path.name}: {'ok' if s.is_completed() else s.message}" for b, s in outcomes]
    message = f"{len(outcomes) - len(failed)} of {len(outcomes)} new batch(es) accepted; " + "; ".join(lines)
    return Failed(message=message) if failed else Completed(message=message)


def _short(path: Path) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in path.stem)[:40]
