"""Scoring probabilities from your own model at scale: what ``labelaudit score`` adds to the stages, out of core.

The input is ONE Parquet table from a model that ran elsewhere: an id column, the given label, and one
probability column per class of the dataset definition (named exactly as the classes), for tens or hundreds of
millions of rows. Nothing here loads it into pandas:

- **ingest** (:func:`ingest_probability_table`) stores metadata only (path, streamed sha256, bytes, rows from
  the Parquet footer): the input file is the record of the rows and their probabilities; neither
  ``ingested_rows`` nor ``oof_probs`` copy it;
- **validate** (:func:`labelaudit.pipeline.validate.validate_probability_table`) checks the schema from the
  Parquet footer, then labels, ids and probabilities with DuckDB queries;
- **score** (:func:`score_probability_file`) streams the file through
  :func:`labelaudit.cl.outofcore.confident_learning_summary_out_of_core` (labels mapped to class indices batch by
  batch by :class:`~labelaudit.pipeline.streamed_io.LabelledParquetSource`); its per-row results go to
  :class:`~labelaudit.pipeline.streamed_io.ScoresSink`, which completes them from the input (id, class names,
  probability of the suggestion) and writes them to a temporary Parquet file; the flagged rows are then ranked,
  and the rows are streamed into ``scores`` (an Arrow ``RecordBatchReader`` DuckDB consumes batch by batch)
  inside the score stage's one transaction, next to ``noise_matrix``, ``class_metrics`` and ``run_metrics``
  (``scoring_path = 'out-of-core'``). The fit stage is recorded as "precomputed (out of core)".

Memory is bounded by the batch size and DuckDB's memory limit (both derived from the ``memory_budget``
setting), not by the number of rows. Results equal the in-memory audit's on data that fits (tests/outofcore_flow).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from labelaudit.cl.outofcore import SUPPORTED
from labelaudit.errors import DefinitionError, InputDataError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.readers import SourceInfo, file_sha256
from labelaudit.kinds import kind_for
from labelaudit.pipeline.fit import record_streamed_fit
from labelaudit.pipeline.probability_table import ProbabilityTable
from labelaudit.pipeline.recording import recording
from labelaudit.pipeline.score import (
    RunMetrics,
    ScoredBatch,
    class_metrics_frame,
    noise_matrix_frame,
    write_score_stage,
)
from labelaudit.pipeline.streamed_io import LabelledParquetSource, Progress, ScoresSink
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

__all__ = ["OutOfCoreScore", "ingest_probability_table", "score_probability_file"]

_EMPTY_SCORES = [
    "row_idx", "row_id", "given_label", "suggested_label", "suggested_prob", "label_quality", "is_issue", "issue_rank",
]  # fmt: skip


def ingest_probability_table(
    store: AuditStore,
    run_id: str,
    path: str,
    bundle: DatasetBundle,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    memory_budget: int,
) -> ProbabilityTable:
    """Store the input's metadata (a ``batches`` row); the rows stay in the file, which is the record."""
    definition = bundle.definition
    with recording(store, run_id, "ingest") as started:
        file = Path(path)
        if not file.exists():
            raise InputDataError("file does not exist", source=path)
        if not file.is_file():
            raise InputDataError("is a folder, not a file", source=path)
        if definition.filter_by not in SUPPORTED:
            raise DefinitionError(
                f"dataset {definition.name!r} uses filter_by {definition.filter_by!r}; out of core the methods are "
                f"{', '.join(SUPPORTED)}"
            )
        if not kind_for(definition.label_type).streamed_scoring:
            raise DefinitionError(
                f"dataset {definition.name!r} has label_type {definition.label_type!r}; scoring probabilities out of "
                "core supports multiclass labels only (use `labelaudit audit --probabilities` for the others)"
            )
        try:
            parquet = pq.ParquetFile(file)
        except Exception as exc:  # pyarrow raises several unrelated types for a file that is not Parquet
            raise InputDataError(f"cannot be read as Parquet: {exc}", source=path) from exc
        schema = parquet.schema_arrow
        label = label_column or definition.label_column
        id_name = id_column or definition.id_column
        classes = list(definition.classes) if definition.classes else [
            n for n in schema.names if n not in (label, id_name)
        ]  # fmt: skip
        info = SourceInfo(str(file), "parquet", file_sha256(file), file.stat().st_size, parquet.metadata.num_rows)
        batches = pd.DataFrame([{**info.__dict__, "ingested_at": utcnow()}])
        store.write_stage(
            run_id,
            "ingest",
            StageWrite(
                {"batches": batches},
                started,
                rows=info.rows,
                message=f"{info.path} (parquet, sha256 {info.sha256[:12]}; metadata only, the file is the record)",
            ),
        )
    return ProbabilityTable(info, id_name, label, classes, schema, memory_budget)


@dataclass(frozen=True)
class OutOfCoreScore(ScoredBatch):
    """The score stage's summary. ``scores`` is empty: the per-row scores are in DuckDB (table ``scores``)."""

    renormalised_warning: str | None = None


def _summarise(source: LabelledParquetSource, sink: ScoresSink, workdir: Path, filter_by: str, table):
    """Run the core's passes over the file; return its summary and the renormalisation warning, if any."""
    from labelaudit.cl.outofcore import confident_learning_summary_out_of_core

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            summary = confident_learning_summary_out_of_core(source, sink, filter_by=filter_by, workdir=workdir)
        except InputDataError as exc:
            raise InputDataError(f"{exc} (0-based row positions in the file)", source=table.path) from exc
        finally:
            pa.default_memory_pool().release_unused()  # the batches' buffers, before DuckDB needs memory
    if int(sink.counts[0].sum()) != table.rows:
        raise InputDataError(
            f"scored {int(sink.counts[0].sum())} rows with a known label, but the file has {table.rows}; "
            "was it changed while it was being scored?",
            source=table.path,
        )
    renormalised = next((str(w.message) for w in caught if "renormal" in type(w.message).__name__.lower()), None)
    return summary, renormalised


def score_probability_file(
    store: AuditStore,
    run_id: str,
    table: ProbabilityTable,
    bundle: DatasetBundle,
    *,
    workdir: Path,
    progress: Progress | None = None,
) -> OutOfCoreScore:
    """Stream confident learning over the file; store the fit record, then every score table in one transaction."""
    filter_by = bundle.definition.filter_by
    source = LabelledParquetSource(
        table.path, table.label_column, table.classes, table.batch_rows, progress=progress, total_rows=table.rows
    )
    with recording(store, run_id, "score") as started:
        sink = ScoresSink(table, workdir / "scores.parquet")
        summary, renormalised = _summarise(source, sink, workdir, filter_by, table)
        names = np.asarray(table.classes, dtype=object)
        given, flagged, correct = sink.counts
        n, joint = table.rows, np.asarray(summary.joint, dtype=np.float64)
        metrics = RunMetrics.from_summary(
            summary, n, len(table.classes), int(correct.sum()),
            log_loss=source.log_loss, method=filter_by, path="out-of-core",
        )  # fmt: skip
        scored = OutOfCoreScore(
            pd.DataFrame(columns=_EMPTY_SCORES),
            noise_matrix_frame(summary, names),
            class_metrics_frame(given, flagged, correct, joint, names),
            metrics.frame(),
            renormalised_warning=renormalised,
        )
        record_streamed_fit(
            store, run_id, table.path, table.classes, given, accuracy=metrics.oof_accuracy, log_loss=source.log_loss
        )
        message = f"{summary.num_issues} rows flagged (out of core, {source.passes} passes"
        message += f"; {renormalised})" if renormalised else ")"
        # scores are streamed from the sink's file into DuckDB, never whole in memory
        write_score_stage(store, run_id, started, scored, rows=n, message=message, scores=sink.reader())
    return scored
