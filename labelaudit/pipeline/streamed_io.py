"""The streamed source and sink of out-of-core scoring: a probabilities file read batch by batch, and the
per-row results written back to disk, never whole in memory.

Why no SQL join of the results with the input: DuckDB's ``POSITIONAL JOIN`` materialises one side (it ran out
of a 512 MiB memory limit at 100M rows), and a join on row numbers builds a hash table of N rows. Reading the
input a second time beside the results, in the same order, costs one more streamed pass and no memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelaudit.pipeline.probability_table import ProbabilityTable
from labelaudit.pipeline.score import flag_ranks

__all__ = ["SCORES_SCHEMA", "LabelledParquetSource", "Progress", "ScoresSink"]

#: Progress callback: (pass number from 1, rows done in this pass, rows in all).
Progress = Callable[[int, int, int], None]


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
        self.ranks = flag_ranks(quality, rows)

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
