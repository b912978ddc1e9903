"""Scoring probabilities from your own model at scale: the stages of ``labelaudit score``, out of core.

The input is ONE Parquet table from a model that ran elsewhere: an id column, the given label, and one
probability column per class of the dataset definition (named exactly as the classes), for tens or hundreds of
millions of rows. Nothing here loads it into pandas:

- **ingest** stores metadata only (path, streamed sha256, bytes, rows from the Parquet footer): the input file
  is the record of the rows and their probabilities; neither ``ingested_rows`` nor ``oof_probs`` copy it;
- **validate** checks the schema from the Parquet footer, then labels, ids and probabilities with DuckDB
  queries over ``read_parquet`` (counts and a few example rows), stored in ``validation_results`` with codes like
  the GX suite's (GX cannot validate inside DuckDB with duckdb 2.0; see docs/scoring.md);
- **score** streams the file through :func:`labelaudit.cl.outofcore.confident_learning_summary_out_of_core`
  (labels mapped to class indices batch by batch by :class:`LabelledParquetSource`); its per-row results go to
  :class:`ScoresSink`, which completes them from the input (id, class names, probability of the suggestion) and
  writes them to a temporary Parquet file; the flagged rows are then ranked, and the rows are streamed into
  ``scores`` (an Arrow ``RecordBatchReader`` DuckDB consumes batch by batch) inside the score stage's one
  transaction, next to ``noise_matrix``, ``class_metrics`` and ``run_metrics`` (``scoring_path =
  'out-of-core'``). The fit stage is recorded as "precomputed (out of core)".

Why no SQL join of the results with the input: DuckDB's ``POSITIONAL JOIN`` materialises one side (it ran out
of a 512 MiB memory limit at 100M rows), and a join on row numbers builds a hash table of N rows. Reading the
input a second time beside the results, in the same order, costs one more streamed pass and no memory.

Memory is bounded by the batch size and DuckDB's memory limit (both derived from the ``memory_budget``
setting), not by the number of rows. Results equal the in-memory audit's on data that fits (tests/outofcore_flow).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelaudit.cl.outofcore import SUPPORTED
from labelaudit.errors import DefinitionError, FittingError, InputDataError, SchemaValidationError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.gx_suite import ExpectationOutcome, outcomes_frame
from labelaudit.inputs.readers import SourceInfo, file_sha256
from labelaudit.kinds import kind_for
from labelaudit.pipeline.scoring import ScoredBatch
from labelaudit.pipeline.stages import recording
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

#: Shown rows / values in a failed check's examples.
EXAMPLES = 5
#: Progress callback: (pass number from 1, rows done in this pass, rows in all).
Progress = Callable[[int, int, int], None]


def _q(name: str) -> str:
    """A column name quoted for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def batch_rows_for(memory_budget: int, num_classes: int) -> int:
    """Rows per streamed batch: one batch's float64 matrix and its working copies (about 8) in 1/8 of the budget."""
    rows = memory_budget // (8 * 8 * 8 * max(num_classes, 1))
    return int(min(max(rows, 1 << 14), 1 << 20))


def duckdb_memory_limit(memory_budget: int) -> str:
    """DuckDB's ``memory_limit``: a quarter of the budget (it spills to the work folder beyond that); the rest is
    for Python, the streamed batches and pyarrow's buffer pool."""
    return f"{max(memory_budget // 4, 64 * 1024**2) // 1024**2}MiB"


@dataclass(frozen=True)
class ProbabilityTable:
    """The input as described by its Parquet footer and the dataset definition."""

    source: SourceInfo
    id_column: str | None
    label_column: str
    classes: list[str]
    schema: pa.Schema
    memory_budget: int

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def rows(self) -> int:
        return self.source.rows

    @property
    def batch_rows(self) -> int:
        return batch_rows_for(self.memory_budget, len(self.classes))


# -- ingest ------------------------------------------------------------------------------------------------


def ingest(
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


# -- validate ----------------------------------------------------------------------------------------------


def _connect(table: ProbabilityTable, workdir: Path | None = None):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_memory_limit(table.memory_budget)}'")
    if workdir is not None:
        con.execute("SET temp_directory = ?", [str(workdir / "duckdb-tmp")])
    return con


def _structure(table: ProbabilityTable) -> list[ExpectationOutcome]:
    """What the Parquet footer alone tells: row count, columns present, probability columns numeric."""
    names = set(table.schema.names)
    outcomes = [
        ExpectationOutcome(
            "ROWS",
            "expect_table_row_count_to_be_between",
            None,
            table.rows >= 1,
            observed_value=table.rows,
            kwargs={"min_value": 1},
            message=None if table.rows >= 1 else "the file has no rows",
        )
    ]
    wanted = [c for c in (table.id_column, table.label_column) if c] + list(table.classes)
    for column in wanted:
        found = column in names
        outcomes.append(
            ExpectationOutcome(
                f"COL-{column}",
                "expect_column_to_exist",
                column,
                found,
                kwargs={"column": column},
                message=None
                if found
                else f"no column {column!r} in the file (columns: {', '.join(table.schema.names[:30])})",
            )
        )
    numeric = ("float", "double", "halffloat", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
    for column in table.classes:
        if column not in names:
            continue
        dtype = str(table.schema.field(column).type)
        ok = dtype in numeric
        outcomes.append(
            ExpectationOutcome(
                f"TYPE-{column}",
                "expect_column_values_to_be_in_type_list",
                column,
                ok,
                observed_value=dtype,
                kwargs={"column": column, "type_list": ["float", "double"]},
                message=None if ok else f"probability column has type {dtype}, not a number",
            )
        )
    if len(table.classes) < 2:
        outcomes.append(
            ExpectationOutcome(
                "CLASSES",
                "expect_at_least_two_classes",
                None,
                False,
                message=f"need at least 2 classes (probability columns), got {table.classes}",
            )
        )
    return outcomes


def _counted(code: str, kind: str, column: str, unexpected: int, total: int, **details: Any) -> ExpectationOutcome:
    """A check that counts unexpected values: it passes at zero; the percentage is of the ``total`` rows looked at."""
    return ExpectationOutcome(
        code,
        kind,
        column,
        unexpected == 0,
        element_count=total,
        unexpected_count=unexpected,
        unexpected_percent=100 * unexpected / total if total else 0.0,
        **details,
    )


def _rows_where(con, table: ProbabilityTable, condition: str, params: list[Any]) -> tuple[list[int], list[Any]]:
    """1-based row numbers and ids (or values) of the first few rows matching ``condition``."""
    id_expr = f"CAST({_q(table.id_column)} AS VARCHAR)" if table.id_column else "NULL"
    found = con.execute(
        f"SELECT file_row_number + 1, {id_expr} FROM read_parquet(?, file_row_number = true) "
        f"WHERE {condition} ORDER BY file_row_number LIMIT {EXAMPLES}",
        [table.path, *params],
    ).fetchall()
    return [int(r[0]) for r in found], [r[1] for r in found]


def _label_checks(con, table: ProbabilityTable) -> tuple[list[ExpectationOutcome], dict[str, int]]:
    """LABEL-NOTNULL and LABEL-SET from one GROUP BY over the label column; the per-class counts."""
    label = f"CAST({_q(table.label_column)} AS VARCHAR)"
    counts = dict(con.execute(f"SELECT {label}, count(*) FROM read_parquet(?) GROUP BY ALL", [table.path]).fetchall())
    total = sum(counts.values())
    missing = counts.pop(None, 0)
    unknown = {k: v for k, v in counts.items() if k not in set(table.classes)}
    outcomes = []
    rows: list[int] = []
    if missing:
        rows, _ = _rows_where(con, table, f"{_q(table.label_column)} IS NULL", [])
    outcomes.append(
        _counted(
            "LABEL-NOTNULL",
            "expect_column_values_to_not_be_null",
            table.label_column,
            missing,
            total,
            rows=rows,
            kwargs={"column": table.label_column},
        )
    )
    bad = sum(unknown.values())
    rows, values = [], []
    if bad:
        values = sorted(unknown, key=lambda k: (-unknown[k], k))[:EXAMPLES]
        rows, _ = _rows_where(con, table, f"{label} IS NOT NULL AND NOT list_contains(?, {label})", [table.classes])
    outcomes.append(
        _counted(
            "LABEL-SET",
            "expect_column_values_to_be_in_set",
            table.label_column,
            bad,
            total - missing,
            examples=values,
            rows=rows,
            kwargs={"column": table.label_column, "value_set": table.classes},
            message=None
            if bad == 0
            else f"{bad} of {total - missing} labels are not among the classes {table.classes}: "
            + ", ".join(f"{v!r} ({unknown[v]} rows)" for v in values)
            + f"; e.g. rows {', '.join(map(str, rows))}",
        )
    )
    return outcomes, {c: int(counts.get(c, 0)) for c in table.classes}


def _value_checks(con, table: ProbabilityTable) -> list[ExpectationOutcome]:
    """Ids non-null and unique; probabilities finite, within [0, 1] and summing to 1 (the scoring's policy)."""
    from labelaudit.cl._engine.validation import RENORMALISE_ATOL, VALUE_ATOL

    cols = [_q(c) for c in table.classes]
    finite = " AND ".join(f"coalesce(isfinite({c}::DOUBLE), false)" for c in cols)
    in_range = " AND ".join(f"{c} >= -{VALUE_ATOL!r} AND {c} <= 1 + {RENORMALISE_ATOL!r}" for c in cols)
    total = " + ".join(f"{c}::DOUBLE" for c in cols)
    conditions = {
        "PROBS-FINITE": f"NOT ({finite})",
        "PROBS-RANGE": f"({finite}) AND NOT ({in_range})",
        "PROBS-SUM": f"({finite}) AND abs({total} - 1) > {RENORMALISE_ATOL!r}",
    }
    selects = [f"count(*) FILTER (WHERE {cond})" for cond in conditions.values()]
    if table.id_column:
        ident = _q(table.id_column)
        selects.append(f"count(*) - count({ident})")
    found = con.execute(f"SELECT count(*), {', '.join(selects)} FROM read_parquet(?)", [table.path]).fetchone()
    rows_total, counts = int(found[0]), [int(v) for v in found[1:]]
    if table.id_column:  # a GROUP BY, which spills to disk (count(DISTINCT) in the query above would not)
        repeated = con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM read_parquet(?) "
            f"WHERE {ident} IS NOT NULL GROUP BY {ident} HAVING count(*) > 1)",
            [table.path],
        ).fetchone()[0]
        counts.append(int(repeated))
    described = {
        "PROBS-FINITE": ("expect_probabilities_to_be_finite", "have a missing, NaN or infinite probability"),
        "PROBS-RANGE": (
            "expect_probabilities_to_be_between",
            f"have a probability below -{VALUE_ATOL:g} or above 1 + {RENORMALISE_ATOL:g}",
        ),
        "PROBS-SUM": (
            "expect_probability_rows_to_sum_to_1",
            f"have probabilities that do not sum to 1 within {RENORMALISE_ATOL:g}",
        ),
    }
    outcomes = []
    for (code, condition), unexpected in zip(conditions.items(), counts, strict=False):
        kind, what = described[code]
        rows, ids = _rows_where(con, table, condition, []) if unexpected else ([], [])
        outcomes.append(
            _counted(
                code,
                kind,
                ", ".join(table.classes),
                unexpected,
                rows_total,
                examples=[i for i in ids if i is not None],
                rows=rows,
                kwargs={"columns": table.classes},
                message=None
                if unexpected == 0
                else f"{unexpected} of {rows_total} rows {what}, e.g. rows {', '.join(map(str, rows))}"
                + (f" (ids {', '.join(map(str, ids))})" if table.id_column else ""),
            )
        )
    if table.id_column:
        nulls, duplicates = counts[3], counts[4]
        rows, _ = _rows_where(con, table, f"{_q(table.id_column)} IS NULL", []) if nulls else ([], [])
        outcomes.append(
            _counted(
                "ID-NOTNULL",
                "expect_column_values_to_not_be_null",
                table.id_column,
                nulls,
                rows_total,
                rows=rows,
                kwargs={"column": table.id_column},
            )
        )
        examples: list[Any] = []
        if duplicates:
            examples = [
                r[0]
                for r in con.execute(
                    f"SELECT CAST({ident} AS VARCHAR) FROM read_parquet(?) WHERE {ident} IS NOT NULL GROUP BY 1 "
                    f"HAVING count(*) > 1 LIMIT {EXAMPLES}",
                    [table.path],
                ).fetchall()
            ]
        outcomes.append(
            _counted(
                "ID-UNIQUE",
                "expect_column_values_to_be_unique",
                table.id_column,
                duplicates,
                rows_total - nulls,
                examples=examples,
                kwargs={"column": table.id_column},
                message=None if duplicates == 0 else f"{duplicates} repeated ids, e.g. {examples}",
            )
        )
    return outcomes


@dataclass(frozen=True)
class CheckResult:
    """The validation outcomes and the per-class counts of given labels."""

    outcomes: list[ExpectationOutcome]
    label_counts: dict[str, int]


def validate(store: AuditStore, run_id: str, table: ProbabilityTable, *, workdir: Path | None = None) -> CheckResult:
    """Check the table without pandas (footer, then DuckDB); store every outcome; raise if any failed.

    ``workdir`` is where DuckDB spills (counting distinct ids of a big table can exceed its memory limit).
    """
    with recording(store, run_id, "validate") as started:
        outcomes = _structure(table)
        counts: dict[str, int] = {}
        if all(o.success for o in outcomes):
            with _connect(table, workdir) as con:
                label_outcomes, counts = _label_checks(con, table)
                outcomes += label_outcomes + _value_checks(con, table)
        failed = [o for o in outcomes if not o.success]
        store.write_stage(
            run_id,
            "validate",
            StageWrite(
                {"validation_results": outcomes_frame(outcomes)},
                started,
                rows=table.rows,
                message=f"{len(outcomes) - len(failed)} of {len(outcomes)} checks met (DuckDB, out of core)",
            ),
        )
        if failed:
            lines = "\n".join(f"  - {f.describe()}" for f in failed)
            raise SchemaValidationError(
                f"{table.path} failed {len(failed)} of {len(outcomes)} checks:\n{lines}", failures=failed
            )
    return CheckResult(outcomes, counts)


# -- the streamed source -----------------------------------------------------------------------------------


@dataclass
class LabelledParquetSource:
    """A Parquet file whose label column holds class *names*, mapped to class indices batch by batch.

    Implements the source protocol of :func:`labelaudit.cl.outofcore.confident_learning_summary_out_of_core`
    (``columns()``, ``batches()``, ``describe()``). Reads only the label and class columns, ``batch_rows`` at a
    time. Unknown or missing labels become ``-1`` (the core rejects them, naming the rows; the validate stage
    has already refused such files). During the first pass it also sums each row's log-loss term, for the
    run's ``oof_log_loss`` (on the probabilities as given; rows the core renormalises differ by under 1e-3).
    """

    path: str
    label_column: str
    classes: list[str]
    batch_rows: int = 1 << 20
    progress: Progress | None = None
    total_rows: int = 0
    passes: int = field(default=0, init=False)
    log_loss_sum: float = field(default=0.0, init=False)
    log_loss_rows: int = field(default=0, init=False)

    def columns(self) -> list[str]:
        return list(self.classes)

    def describe(self) -> str:
        return self.path

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.passes += 1
        first = self.passes == 1
        value_set = pa.array(self.classes, type=pa.string())
        reader = pq.ParquetFile(self.path, pre_buffer=False)  # see ParquetSource: memory stays at about a batch
        done = 0
        for batch in reader.iter_batches(batch_size=self.batch_rows, columns=[self.label_column, *self.classes]):
            labels = pc.cast(batch.column(self.label_column), pa.string())
            codes = pc.fill_null(pc.index_in(labels, value_set=value_set), -1).to_numpy(zero_copy_only=False)
            columns = [batch.column(name).to_numpy(zero_copy_only=False) for name in self.classes]
            probs = np.empty((batch.num_rows, len(columns)), dtype=np.result_type(*[c.dtype for c in columns]))
            for j, column in enumerate(columns):
                probs[:, j] = column
            if first:
                self._add_log_loss(codes, probs)
            done += batch.num_rows
            yield codes.astype(np.int64), probs
            if self.progress is not None:
                self.progress(self.passes, done, self.total_rows)

    def _add_log_loss(self, codes: np.ndarray, probs: np.ndarray) -> None:
        known = codes >= 0
        if not known.any():
            return
        dtype = probs.dtype if probs.dtype in (np.float32, np.float64) else np.float64
        eps = float(np.finfo(dtype).eps)  # sklearn's log_loss clipping, as in the in-memory fold metrics
        given = probs[np.flatnonzero(known), codes[known]].astype(np.float64)
        with np.errstate(invalid="ignore"):
            self.log_loss_sum += float(-np.log(np.clip(given, eps, 1 - eps)).sum())
        self.log_loss_rows += int(known.sum())

    @property
    def log_loss(self) -> float | None:
        if not self.log_loss_rows or not math.isfinite(self.log_loss_sum):
            return None
        return self.log_loss_sum / self.log_loss_rows


# -- fit (precomputed) and score ---------------------------------------------------------------------------


def prepare_fit(store: AuditStore, run_id: str, table: ProbabilityTable, checks: CheckResult) -> None:
    """Refuse a table with fewer than two classes present, as the in-memory audit does (a failed fit stage)."""
    with recording(store, run_id, "fit"):
        present = [c for c, n in checks.label_counts.items() if n]
        if len(present) < 2:
            raise FittingError(
                f"the batch has a single class ({present[0] if present else 'none'!r}); at least two are needed"
            )


@dataclass(frozen=True)
class OutOfCoreScore(ScoredBatch):
    """The score stage's summary. ``scores`` is empty: the per-row scores are in DuckDB (table ``scores``)."""

    renormalised_warning: str | None = None


def _noise_frame(summary: Any, names: np.ndarray) -> pd.DataFrame:
    k = len(names)
    given_idx, true_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame(
        {
            "given_label": names[given_idx.ravel()],
            "true_label": names[true_idx.ravel()],
            "confident_count": np.asarray(summary.confident_joint, dtype=np.float64).ravel(),
            "joint": np.asarray(summary.joint, dtype=np.float64).ravel(),
            "noise": np.asarray(summary.noise_matrix, dtype=np.float64).ravel(),
        }
    )


def _class_frame(per_class: pd.DataFrame, joint: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    """As :func:`labelaudit.pipeline.scoring._class_metrics`, from per-class counts aggregated by DuckDB."""
    given = per_class["given_count"].to_numpy(np.int64)
    flagged = per_class["flagged"].to_numpy(np.int64)
    correct = per_class["correct"].to_numpy(np.int64)
    row_mass = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(row_mass > 0, 1.0 - np.diag(joint) / row_mass, 0.0)
        flagged_rate = np.where(given > 0, flagged / np.maximum(given, 1), 0.0)
        accuracy = np.where(given > 0, correct / np.maximum(given, 1), np.nan)
    return pd.DataFrame(
        {
            "label": names,
            "given_count": given,
            "flagged": flagged,
            "estimated_error_rate": np.clip(error, 0.0, 1.0),
            "flagged_rate": flagged_rate,
            "oof_accuracy": accuracy,
        }
    )


SCORES_SCHEMA = pa.schema(
    [
        ("row_idx", pa.int64()),
        ("row_id", pa.string()),
        ("given_label", pa.string()),
        ("suggested_label", pa.string()),
        ("suggested_prob", pa.float64()),
        ("label_quality", pa.float64()),
        ("is_issue", pa.bool_()),
    ]
)


@dataclass
class ScoresSink:
    """The core's result sink for the score stage: each result batch becomes ``scores`` rows, on disk.

    The core writes results in row order, batch by batch (pass 4); this sink reads the same rows of the input
    (id, label, class columns) with its own streaming reader, so each row gets its id, its labels as class names
    and the probability of its suggested class without any join. It also counts, per given class, rows, flagged
    rows and rows whose argmax is the given label, and keeps the flagged rows' (row, label quality) to rank them
    at the end (memory: the number of flagged rows, as in the core's own buffers).
    """

    table: ProbabilityTable
    path: Path
    _writer: pq.ParquetWriter | None = field(default=None, init=False, repr=False)
    _reader: Iterator[pa.RecordBatch] | None = field(default=None, init=False, repr=False)
    _pending: list[pa.RecordBatch] = field(default_factory=list, init=False, repr=False)
    _flagged: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, init=False, repr=False)
    counts: np.ndarray = field(default=None, init=False)  # (3, K): given, flagged, correct per given class
    ranks: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros((3, len(self.table.classes)), dtype=np.int64)

    def _columns(self) -> list[str]:
        return [c for c in (self.table.id_column, self.table.label_column) if c] + list(self.table.classes)

    def _take(self, n: int) -> pa.Table:
        """The next ``n`` rows of the input."""
        if self._reader is None:
            file = pq.ParquetFile(self.table.path, pre_buffer=False)
            self._reader = file.iter_batches(batch_size=self.table.batch_rows, columns=self._columns())
        have = sum(b.num_rows for b in self._pending)
        while have < n:
            batch = next(self._reader)
            self._pending.append(batch)
            have += batch.num_rows
        rows = pa.Table.from_batches(self._pending).combine_chunks()
        self._pending = rows.slice(n).to_batches()
        return rows.slice(0, n)

    def write(self, results: pa.Table) -> None:
        n = results.num_rows
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), SCORES_SCHEMA)
        if n == 0:
            return
        k = len(self.table.classes)
        rows = results.column("row").to_numpy()
        suggested = results.column("suggested_label").to_numpy().astype(np.int64)
        mask = results.column("is_label_issue").to_numpy(zero_copy_only=False)
        quality = results.column("label_quality").to_numpy()
        source = self._take(n)
        labels = pc.cast(source.column(self.table.label_column), pa.string())
        found = pc.index_in(labels, value_set=pa.array(self.table.classes))
        codes = pc.fill_null(found, k).to_numpy(zero_copy_only=False)  # k: unknown (refused by the checks)
        chosen = np.zeros(n, dtype=np.float64)
        for j, name in enumerate(self.table.classes):
            pick = np.flatnonzero(suggested == j)
            if len(pick):
                chosen[pick] = source.column(name).take(pa.array(pick)).to_numpy(zero_copy_only=False)
        if self.table.id_column:
            row_id = pc.cast(source.column(self.table.id_column), pa.string())
        else:
            row_id = pa.array((rows + 1).astype(str))
        self.counts[0] += np.bincount(codes, minlength=k + 1)[:k]
        self.counts[1] += np.bincount(codes[mask], minlength=k + 1)[:k]
        self.counts[2] += np.bincount(codes[suggested == codes], minlength=k + 1)[:k]
        if mask.any():
            self._flagged.append((rows[mask], quality[mask]))
        self._writer.write_table(
            pa.table(
                [
                    pa.array(rows),
                    row_id,
                    labels,
                    pa.array(self.table.classes).take(pa.array(suggested)),
                    pa.array(chosen),
                    pa.array(quality),
                    pa.array(mask),
                ],
                schema=SCORES_SCHEMA,
            )
        )

    def close(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), SCORES_SCHEMA)
        self._writer.close()
        rows = np.concatenate([f[0] for f in self._flagged]) if self._flagged else np.empty(0, dtype=np.int64)
        quality = np.concatenate([f[1] for f in self._flagged]) if self._flagged else np.empty(0)
        self._flagged = []
        # most suspicious first; ties by row (as in memory). ranks[i] belongs to the i-th flagged row in row order
        order = np.lexsort((rows, quality))
        self.ranks = np.empty(len(rows), dtype=np.int32)
        self.ranks[order] = np.arange(1, len(rows) + 1, dtype=np.int32)

    def describe(self) -> str:
        return str(self.path)

    def reader(self) -> pa.RecordBatchReader:
        """The stored rows with ``issue_rank``, streamed (DuckDB inserts it without holding it in memory)."""
        schema = SCORES_SCHEMA.append(pa.field("issue_rank", pa.int32()))
        ranks = self.ranks if self.ranks is not None else np.empty(0, dtype=np.int32)

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            for batch in pq.ParquetFile(self.path, pre_buffer=False).iter_batches(batch_size=self.table.batch_rows):
                mask = batch.column("is_issue").to_numpy(zero_copy_only=False)
                rank = np.zeros(batch.num_rows, dtype=np.int32)
                flagged = int(mask.sum())
                rank[mask] = ranks[done : done + flagged]
                done += flagged
                yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(rank, mask=~mask)], schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())


def score(
    store: AuditStore,
    run_id: str,
    table: ProbabilityTable,
    bundle: DatasetBundle,
    *,
    workdir: Path,
    progress: Progress | None = None,
) -> OutOfCoreScore:
    """Stream confident learning over the file; store the fit record, then every score table in one transaction."""
    from labelaudit.cl.outofcore import confident_learning_summary_out_of_core

    filter_by = bundle.definition.filter_by
    source = LabelledParquetSource(
        table.path, table.label_column, table.classes, table.batch_rows, progress=progress, total_rows=table.rows
    )
    with recording(store, run_id, "score") as started:
        sink = ScoresSink(table, workdir / "scores.parquet")
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
        names = np.asarray(table.classes, dtype=object)
        per_class = pd.DataFrame(sink.counts.T, columns=["given_count", "flagged", "correct"])
        n, k = table.rows, len(table.classes)
        correct = int(per_class["correct"].sum())
        joint = np.asarray(summary.joint, dtype=np.float64)
        error_rate = float(max(0.0, 1.0 - np.trace(joint)))
        run_metrics = pd.DataFrame(
            {
                "rows": [n],
                "classes": [k],
                "flagged": [summary.num_issues],
                "estimated_issues": [error_rate * n],
                "estimated_error_rate": [error_rate],
                "flagged_rate": [summary.num_issues / n],
                "oof_accuracy": [correct / n],
                "oof_log_loss": [source.log_loss],
                "method": [filter_by],
                "tie_rule": [summary.tie_rule],
                "scoring_path": ["out-of-core"],
            }
        )
        class_metrics = _class_frame(per_class, joint, names)
        noise = _noise_frame(summary, names)
        # -- the fit stage: precomputed, the file is the record (oof_probs is not copied) --------------------
        store.write_stage(
            run_id,
            "fit",
            StageWrite(
                {
                    "classes": pd.DataFrame(
                        {
                            "class_idx": np.arange(k, dtype=np.int32),
                            "label": table.classes,
                            "given_count": per_class["given_count"].to_numpy(np.int64),
                        }
                    ),
                    "fold_metrics": pd.DataFrame(
                        {
                            "fold": pd.array([None], dtype="Int32"),
                            "rows": [n],
                            "accuracy": [correct / n],
                            "log_loss": [source.log_loss],
                            "seconds": [None],
                        }
                    ),
                },
                utcnow(),  # nothing is fitted: the stage records the precomputed probabilities' accuracy
                rows=n,
                message=f"precomputed (out of core): {table.path}; probabilities not copied, the file is the record",
            ),
        )
        message = f"{summary.num_issues} rows flagged (out of core, {source.passes} passes"
        message += f"; {renormalised})" if renormalised else ")"
        store.write_stage(
            run_id,
            "score",
            StageWrite(
                {
                    "scores": sink.reader(),  # streamed from the sink's file into DuckDB, never whole in memory
                    "noise_matrix": noise,
                    "class_metrics": class_metrics,
                    "run_metrics": run_metrics,
                },
                started,
                rows=n,
                message=message,
            ),
        )
    empty = pd.DataFrame(
        columns=[
            "row_idx", "row_id", "given_label", "suggested_label", "suggested_prob", "label_quality", "is_issue",
            "issue_rank",
        ]
    )  # fmt: skip
    return OutOfCoreScore(empty, noise, class_metrics, run_metrics, renormalised_warning=renormalised)
