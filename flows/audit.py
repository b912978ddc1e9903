"""The audit flow: ingest → schema validation → cross-validated fit → confident learning → data issues → gate →
report.

With annotations or stored review verdicts, the labels to fit are settled after validation (majority vote,
confirmed corrections), and the labelers are profiled after scoring (see ``labelaudit.pipeline.labels`` and
``labelaudit.pipeline.labelers``).

Read it as a script: each step is a task from ``tasks/``; the logic lives in ``labelaudit``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from labelaudit.flows.outcome import failures_recorded, judge_and_publish, verdict_state
from labelaudit.flows.runners import task_submitter
from labelaudit.tasks.data_issues import find_issues
from labelaudit.tasks.fit import fit_one_fold, load_probabilities, plan_fit, store_fit
from labelaudit.tasks.ingest import ingest, validate_schema
from labelaudit.tasks.labelers import prepare_labels, profile_labelers
from labelaudit.tasks.runs import start_run
from labelaudit.tasks.score import score_labels
from prefect import flow
from prefect.runtime import flow_run
from prefect.states import State

from labelaudit.inputs.preflight import load_bundle
from labelaudit.inputs.readers import ReadOptions
from labelaudit.project_config import TaskRunnerConfig
from labelaudit.settings import Settings
from labelaudit.store import AuditStore


# Over 60 lines with its docstring: the docstring is the parameters' help in the Prefect UI; the body is ~50.
@flow(name="audit", flow_run_name="audit-{dataset}", log_prints=False)
def audit(
    dataset: str,
    source: str,
    folds: int | None = None,
    model: str | None = None,
    probabilities: str | None = None,
    thresholds: dict[str, Any] | None = None,
    run_id: str | None = None,
    database: str | None = None,
    reports: str | None = None,
    expectations: str | None = None,
    data_docs: bool = True,
    task_runner: TaskRunnerConfig | None = None,
    annotations: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> State:
    """Audit one labelled batch and fail when it breaches its dataset's quality thresholds.

    Args:
        dataset: Name of the dataset definition in the expectations folder (e.g. "penguins").
        source: The batch: a .csv/.tsv/.parquet path, or duckdb:///db.duckdb?query=SELECT ...
        folds: Cross-validation folds; default from the dataset definition.
        model: Classifier override: logistic_regression, hist_gradient_boosting or random_forest.
        probabilities: File of precomputed out-of-sample probabilities (id + one column per class); skips fitting.
        thresholds: Overrides of quality.json for this run, e.g. {"max_label_error_rate": 0.05}.
        run_id: Re-run this run id (its earlier output is replaced); default a new id.
        database: DuckDB file; default LABELAUDIT_DB or ./labelaudit.duckdb.
        reports: Folder or fsspec URL reports are published to; default LABELAUDIT_REPORTS or ./reports.
        expectations: Folder of dataset definitions; default LABELAUDIT_EXPECTATIONS or ./expectations.
        data_docs: Build the Great Expectations Data Docs of the schema validation next to the report.
        task_runner: Where the folds run: empty for threads (one per CPU), {"kind": "threads", "max_workers": 2},
            or {"kind": "dask"} for a local Dask cluster ({"kind": "dask", "address": "tcp://host:8786"} for an
            existing one).
        annotations: Long-format annotations file (item id, annotator id, label[, timestamp]; column names in
            dataset.json's "annotations" block): the majority vote becomes the label fitted, then CROWDLAB
            consensus and labeler profiles are stored (stages "labels" and "labelers").
        delimiter: Delimiter of a .csv/.txt source (e.g. ";"); default: detected from the file (.tsv: tab).
        encoding: Text encoding of a .csv/.tsv source (e.g. "cp1252"); default UTF-8 (a BOM is accepted).
    """
    settings = Settings().with_overrides(database=database, reports_dir=reports, expectations_dir=expectations)
    store = AuditStore(settings.database, lock_timeout=settings.lock_timeout)
    bundle = load_bundle(settings, dataset, folds=folds, model=model, thresholds=thresholds)
    params = _run_params(bundle, dataset, source, probabilities, annotations, delimiter, encoding)
    run_id = start_run(store, dataset, source, params, run_id, flow_run.get_id())
    staging = Path(tempfile.mkdtemp(prefix="labelaudit-"))
    docs_dir = staging / "gx" if data_docs else None
    try:
        with failures_recorded(store, run_id, settings, docs_dir):
            # -- ingest and schema -------------------------------------------------------------------------------
            batch = ingest(store, run_id, source, bundle, ReadOptions(delimiter=delimiter, encoding=encoding))
            validate_schema(store, run_id, batch, bundle, docs_dir)
            # -- the labels to fit: majority vote of the annotations, confirmed review corrections -----------------
            label_inputs = prepare_labels(store, run_id, batch, bundle, annotations)
            batch, bundle = label_inputs.batch, label_inputs.bundle
            # -- out-of-fold probabilities ---------------------------------------------------------------------------
            inputs = plan_fit(store, run_id, batch, bundle, probabilities is not None)
            probs, metrics = _out_of_fold(store, run_id, batch, bundle, inputs, probabilities, task_runner)
            # -- confident learning (per row, tag or token, as the label kind scores) and the gate -------------------
            oof_log_loss = float(metrics.loc[metrics["fold"].isna(), "log_loss"].iloc[0])
            scored = score_labels(store, run_id, batch, inputs, probs, bundle, oof_log_loss)
            profile_labelers(store, run_id, label_inputs, probs, inputs.classes)
            # -- duplicates, leakage, near duplicates, outliers, drift, imbalance (read by the gate) ------------------
            find_issues(store, run_id, batch, inputs, probs, bundle)
            # -- the gate, the stored verdict, the report (which states it); then end in the verdict's state ----------
            verdict, published = judge_and_publish(store, run_id, scored, bundle, settings, docs_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return verdict_state(run_id, verdict, published)


def _run_params(
    bundle: Any,
    dataset: str,
    source: str,
    probabilities: str | None,
    annotations: str | None,
    delimiter: str | None,
    encoding: str | None,
) -> dict[str, Any]:
    """What the run is stored with (``runs.params``): the command's choices and the definition's settings."""
    definition = bundle.definition
    return {
        "dataset": dataset,
        "source": source,
        "folds": definition.folds,
        "model": definition.model.classifier,
        "probabilities": probabilities,
        "thresholds": bundle.quality.model_dump(),
        "seed": definition.seed,
        "filter_by": definition.filter_by,
        "label_column": definition.label_column,
        "label_type": definition.label_type,
        "annotations": annotations,
        "delimiter": delimiter,
        "encoding": encoding,
    }


def _out_of_fold(
    store: AuditStore,
    run_id: str,
    batch: Any,
    bundle: Any,
    inputs: Any,
    probabilities: str | None,
    task_runner: TaskRunnerConfig | None,
) -> tuple[Any, Any]:
    """The out-of-fold probabilities and fold metrics: loaded from ``probabilities``, or one task per fold."""
    if probabilities is not None:
        return load_probabilities(store, run_id, probabilities, batch, bundle, inputs)
    with task_submitter(task_runner) as submit:
        futures = [
            # batch_sha256 is the fold cache key: same bytes, plan and model, no refit
            submit(
                fit_one_fold,
                inputs=inputs,
                fold=fold,
                frame=batch.frame,
                definition=bundle.definition,
                batch_sha256=batch.source.sha256,
            )
            for fold in range(inputs.plan.n_folds)
        ]
        results = [f.result() for f in futures]
    return store_fit(store, run_id, bundle, inputs, results)
