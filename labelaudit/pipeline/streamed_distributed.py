"""``labelaudit score --engine dask``: the stages of a Parquet dataset scored by :mod:`labelaudit.scale`.

The same stages and tables as :mod:`labelaudit.pipeline.streamed` (one Parquet file on one machine), for a
dataset of any number of files (a folder, a glob, an fsspec URL) scored on a cluster:

- **ingest** (:func:`ingest_dataset`) reads only the files' footers: rows, bytes, the partitions; its
  ``batches`` row records the dataset's URL, its files' count and a sha256 of (file, size) pairs (hashing a
  billion rows' bytes would be a pass of its own; the files are the record);
- **validate** (:func:`validate_dataset`) checks every file's footer (the columns, numeric probabilities); the
  values (labels among the classes, ids present and unique, finite probabilities in [0, 1] summing to 1) are
  checked by the workers in the first pass of the score stage, and a bad partition fails that stage naming
  its file and rows (exit 2), before anything is committed;
- **score** (:func:`score_dataset`) runs :func:`labelaudit.scale.score_partitions` through the executor: the
  per-row results are committed as Parquet under ``results_url/rows`` (with ``_SUCCESS``), and the DuckDB file
  gets the flagged rows in ``scores`` (bounded by the number of issues), ``noise_matrix``, ``class_metrics`` and
  ``run_metrics`` (``scoring_path = 'distributed'``, ``engine``, ``workers``, ``rows_url``), then a view over
  the committed rows (:func:`rows_view_name`).

Why a view per run, created by the stage, not one view in a migration: a DuckDB view is fixed SQL, and
``read_parquet`` takes a constant list of files, so one view cannot follow each run's results location; the
run's own view is created only after its rows are committed (a killed run has none), and replaced by a re-run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from labelaudit.errors import DefinitionError, InputDataError, SchemaValidationError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.gx_suite import outcomes_frame
from labelaudit.inputs.readers import SourceInfo
from labelaudit.kinds import kind_for
from labelaudit.pipeline.fit import prepare_streamed_fit, record_streamed_fit
from labelaudit.pipeline.probability_checks import structure_checks
from labelaudit.pipeline.probability_table import ProbabilityTable
from labelaudit.pipeline.recording import recording
from labelaudit.pipeline.score import RunMetrics, class_metrics_frame, flag_ranks, noise_matrix_frame, write_score_stage
from labelaudit.pipeline.streamed import OutOfCoreScore
from labelaudit.pipeline.validate import CheckResult
from labelaudit.scale import ScoreSpec, score_partitions
from labelaudit.scale.partitions import Columns, Partition, dataset_files, parquet_partitions
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

__all__ = ["DistributedSource", "ingest_dataset", "rows_view_name", "score_dataset", "validate_dataset"]


@dataclass(frozen=True)
class DistributedSource:
    """The dataset as its footers describe it: ``table`` (first file's schema, total rows), files, partitions."""

    table: ProbabilityTable
    files: tuple[str, ...]
    schemas: tuple[pa.Schema, ...]
    partitions: tuple[Partition, ...]


def _refuse_definition(bundle: DatasetBundle) -> None:
    definition = bundle.definition
    if not kind_for(definition.label_type).streamed_scoring:
        raise DefinitionError(
            f"dataset {definition.name!r} has label_type {definition.label_type!r}; scoring a dataset on Dask "
            "supports multiclass labels only (use `labelaudit audit --probabilities` for the others)"
        )


def ingest_dataset(
    store: AuditStore,
    run_id: str,
    url: str,
    bundle: DatasetBundle,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    partition_rows: int = 1 << 20,
) -> DistributedSource:
    """Store the dataset's metadata (a ``batches`` row) from its footers; the files stay the record of the rows."""
    import pyarrow.parquet as pq

    from labelaudit.scale.partitions import _open

    definition = bundle.definition
    with recording(store, run_id, "ingest") as started:
        _refuse_definition(bundle)
        files = dataset_files(url)
        schemas, sizes = [], []
        for path in files:
            parquet: pq.ParquetFile = _open(path)
            schemas.append(parquet.schema_arrow)
            sizes.append(int(parquet.metadata.serialized_size) + sum(
                parquet.metadata.row_group(g).total_byte_size for g in range(parquet.metadata.num_row_groups)
            ))  # fmt: skip
        partitions = parquet_partitions(url, partition_rows=partition_rows)
        rows = sum(p.num_rows for p in partitions)
        label = label_column or definition.label_column
        id_name = id_column or definition.id_column
        classes = list(definition.classes) if definition.classes else [
            n for n in schemas[0].names if n not in (label, id_name)
        ]  # fmt: skip
        digest = hashlib.sha256("\n".join(f"{f}\t{s}" for f, s in zip(files, sizes, strict=True)).encode()).hexdigest()
        info = SourceInfo(url, f"parquet dataset ({len(files)} files)", digest, sum(sizes), rows)
        batches = pd.DataFrame([{**info.__dict__, "ingested_at": utcnow()}])
        message = f"{url}: {len(files)} files, {len(partitions)} partitions (footers only, the files are the record)"
        store.write_stage(run_id, "ingest", StageWrite({"batches": batches}, started, rows=rows, message=message))
    table = ProbabilityTable(info, id_name, label, classes, schemas[0], 1 << 30)
    return DistributedSource(table, tuple(files), tuple(schemas), tuple(partitions))


def _file_checks(source: DistributedSource) -> list:
    """The footer checks of each file whose schema differs from the first's, their messages naming the file."""
    table = source.table
    outcomes = structure_checks(table)
    seen = {table.schema}
    for path, schema in zip(source.files, source.schemas, strict=True):
        if schema in seen:
            continue
        seen.add(schema)
        for outcome in structure_checks(ProbabilityTable(table.source, table.id_column, table.label_column,
                                                         table.classes, schema, table.memory_budget)):  # fmt: skip
            if not outcome.success:
                outcomes.append(dataclasses.replace(outcome, message=f"{path}: {outcome.message}"))
    return outcomes


def validate_dataset(store: AuditStore, run_id: str, source: DistributedSource) -> CheckResult:
    """Check every file's footer; store the outcomes; raise if any failed (values: the score stage's pass 1)."""
    with recording(store, run_id, "validate") as started:
        outcomes = _file_checks(source)
        failed = [o for o in outcomes if not o.success]
        message = (
            f"{len(outcomes) - len(failed)} of {len(outcomes)} footer checks met over {len(source.files)} files; "
            "labels, ids and probabilities are checked by the workers in the first pass"
        )
        frame = outcomes_frame(outcomes)
        store.write_stage(run_id, "validate", StageWrite({"validation_results": frame}, started, message=message))
        if failed:
            lines = "\n".join(f"  - {f.describe()}" for f in failed)
            raise SchemaValidationError(
                f"{source.table.path} failed {len(failed)} of {len(outcomes)} checks:\n{lines}", failures=failed
            )
    return CheckResult(outcomes, {})


def rows_view_name(run_id: str) -> str:
    """The view over a distributed run's per-row results: ``rows_<run id>`` (other characters as ``_``)."""
    return "rows_" + re.sub(r"[^0-9A-Za-z_]", "_", run_id)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_rows_view(store: AuditStore, run_id: str, rows_url: str) -> str:
    """``CREATE OR REPLACE VIEW rows_<run id>`` over the committed Parquet files (run_id added as a column)."""
    name = rows_view_name(run_id)
    files = _sql_text(f"{rows_url.rstrip('/')}/*.parquet")
    with store.transaction() as con:
        con.execute(
            f'CREATE OR REPLACE VIEW "{name}" AS SELECT {_sql_text(run_id)} AS run_id, * FROM read_parquet({files})'
        )
    return name


def _flagged_scores(issues: pa.Table) -> pd.DataFrame:
    """``scores`` rows of the flagged rows only (bounded by the number of issues), ranked as every path ranks."""
    frame = issues.to_pandas()
    ranks = flag_ranks(frame["label_quality"].to_numpy(), frame["row_idx"].to_numpy())
    return frame.assign(issue_rank=pd.array(ranks, dtype="Int32"), cl_issue=frame["is_issue"])


def _run(partitions, spec, executor):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score_partitions(list(partitions), spec, executor)
    renormalised = next((str(w.message) for w in caught if "renormal" in type(w.message).__name__.lower()), None)
    return result, renormalised


def _metrics(result, table: ProbabilityTable, filter_by: str, executor) -> pd.DataFrame:
    metrics = RunMetrics.from_summary(
        result.summary, table.rows, len(table.classes), int(result.correct.sum()),
        log_loss=result.log_loss, method=filter_by, path="distributed",
    )  # fmt: skip
    return metrics.frame().assign(engine=executor.name, workers=executor.workers, rows_url=result.rows_url)


def score_dataset(
    store: AuditStore,
    run_id: str,
    source: DistributedSource,
    bundle: DatasetBundle,
    executor,
    *,
    results_url: str,
    work_url: str,
) -> OutOfCoreScore:
    """Score every partition through `executor`; commit the per-row Parquet; store the tables and the view."""
    table, filter_by = source.table, bundle.definition.filter_by
    columns = Columns(table.label_column, tuple(table.classes), table.id_column, tuple(table.classes))
    spec = ScoreSpec(columns, work_url, results_url, filter_by=filter_by)
    with recording(store, run_id, "score") as started:
        if source.table.rows == 0:
            raise InputDataError("the dataset has no rows", source=table.path)
        result, renormalised = _run(source.partitions, spec, executor)
        prepare_streamed_fit(store, run_id, dict(zip(table.classes, result.given.tolist(), strict=True)))
        names = np.asarray(table.classes, dtype=object)
        joint = np.asarray(result.summary.joint, dtype=np.float64)
        scored = OutOfCoreScore(
            _flagged_scores(result.issues),
            noise_matrix_frame(result.summary, names),
            class_metrics_frame(result.given, result.flagged, result.correct, joint, names),
            _metrics(result, table, filter_by, executor),
            renormalised_warning=renormalised,
        )
        m = scored.run_metrics.iloc[0]
        record_streamed_fit(
            store, run_id, table.path, table.classes, result.given, accuracy=m["oof_accuracy"], log_loss=result.log_loss
        )
        message = (
            f"{result.summary.num_issues} rows flagged ({executor.name}, {executor.workers} workers, "
            f"{result.partitions} partitions); every row's result in {result.rows_url}"
        )
        message += f"; {renormalised}" if renormalised else ""
        write_score_stage(store, run_id, started, scored, rows=table.rows, message=message)
        create_rows_view(store, run_id, result.rows_url)
    return scored
