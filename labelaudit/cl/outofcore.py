"""Confident learning over probabilities that do not fit in memory (Parquet file or DuckDB table), in batches.

Why streaming works exactly: every statistic confident learning needs is either mergeable or bounded.

1. Pass 1 validates each batch (the same :func:`~labelaudit.cl._engine.validation.check_block` policy, renormalising
   the same rows), counts labels, and spills each row's self-confidence to a temporary file grouped by class;
   each class threshold is then ``np.mean`` over that class's values *in row order*, the same bits as the
   in-memory path and cleanlab (numpy's pairwise float32 summation depends only on the values and their order).
2. Pass 2 counts the confident joint (integer counts merge by addition) and, per cell ``(given k, true j)``,
   how many rows have a positive margin ``p_j - p_k``.
3. The calibrated joint gives each cell's number of rows to flag ``m``. Pass 3 keeps, per cell, a buffer of at
   most ``m`` (margin, row) candidates, merged batch by batch under the tie rule (larger margin first, then lower
   row): after the last batch the buffer *is* the selection. Only rows with a positive margin are candidates,
   unless a cell wants more rows than have one (then the whole class is, as in memory). Memory is bounded by the
   number of issues, not by N.
4. Pass 4 writes one result row per input row (row, label_quality, is_label_issue, suggested_label) to Parquet
   or DuckDB as each batch is scored, un-flagging rows exactly as cleanlab's final step does.

Supported ``filter_by``: ``prune_by_noise_rate``, ``prune_by_class``, ``both``, ``confident_learning``,
``predicted_neq_given``. Results equal :func:`labelaudit.cl.filter.confident_learning_summary` on data that fits.
"""

# Over 400 lines (479) on purpose: the four streamed passes, their sources and sinks read as one algorithm
# (the module docstring walks through it); the kernels each pass calls are in cl/_engine.
from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from labelaudit.cl._engine import kernels, latent
from labelaudit.cl._engine.validation import (
    InvalidPredProbsError,
    check_block,
    check_label_values,
    raise_for_bad_rows,
    warn_renormalised,
)
from labelaudit.cl.filter import ConfidentLearningSummary, summary_from_parts

__all__ = [
    "DuckDBSink",
    "DuckDBSource",
    "ParquetSink",
    "ParquetSource",
    "confident_learning_summary_out_of_core",
]

SUPPORTED = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
RESULT_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("label_quality", pa.float64()),
        ("is_label_issue", pa.bool_()),
        ("suggested_label", pa.int32()),
    ]
)


def _to_numpy(batch: pa.RecordBatch, label_column: str, prob_columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    labels = batch.column(label_column).to_numpy(zero_copy_only=False)
    columns = [batch.column(name).to_numpy(zero_copy_only=False) for name in prob_columns]
    probs = np.empty((batch.num_rows, len(columns)), dtype=np.result_type(*[c.dtype for c in columns]))
    for j, column in enumerate(columns):
        probs[:, j] = column
    return labels, probs


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file with one integer label column and one float column per class (in class order).

    ``prob_columns=None`` means every column except `label_column` and `exclude`, in file order.
    """

    path: str | Path
    label_column: str = "label"
    prob_columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    batch_rows: int = 1 << 20

    def columns(self) -> list[str]:
        if self.prob_columns is not None:
            return list(self.prob_columns)
        names = pq.ParquetFile(self.path).schema_arrow.names
        return [n for n in names if n != self.label_column and n not in self.exclude]

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        columns = self.columns()
        # pre_buffer=False: with pre-buffering pyarrow keeps the file's read ranges cached (RSS grows with the
        # file: 5.4 GB peak on a 4.6 GB file); without it memory stays at about one batch
        reader = pq.ParquetFile(self.path, pre_buffer=False)
        for batch in reader.iter_batches(batch_size=self.batch_rows, columns=[self.label_column, *columns]):
            yield _to_numpy(batch, self.label_column, columns)

    def describe(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class DuckDBSource:
    """A DuckDB table (or view) read in scan order, optionally ordered by `order_by` for a stable row order."""

    database: str | Path
    table: str
    label_column: str = "label"
    prob_columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    order_by: str | None = None
    batch_rows: int = 1 << 20

    def _connect(self):
        import duckdb

        return duckdb.connect(str(self.database))  # same configuration as DuckDBSink, so both can be open

    def columns(self) -> list[str]:
        if self.prob_columns is not None:
            return list(self.prob_columns)
        with self._connect() as con:
            names = [row[0] for row in con.execute(f'DESCRIBE "{self.table}"').fetchall()]
        return [n for n in names if n != self.label_column and n not in self.exclude]

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        columns = self.columns()
        quoted = ", ".join(f'"{c}"' for c in [self.label_column, *columns])
        order = f" ORDER BY {self.order_by}" if self.order_by else ""
        with self._connect() as con:
            relation = con.sql(f'SELECT {quoted} FROM "{self.table}"{order}')
            # duckdb >= 2 names it to_arrow_reader, 1.x fetch_arrow_reader
            reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
            for batch in reader(self.batch_rows):
                yield _to_numpy(batch, self.label_column, columns)

    def describe(self) -> str:
        return f"{self.database}:{self.table}"


@dataclass
class ParquetSink:
    """Writes result batches to a Parquet file as they are produced."""

    path: str | Path
    _writer: pq.ParquetWriter | None = field(default=None, repr=False)

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), RESULT_SCHEMA, use_dictionary=False)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), RESULT_SCHEMA)
        self._writer.close()

    def describe(self) -> str:
        return str(self.path)


@dataclass
class DuckDBSink:
    """Appends result batches to a (replaced) DuckDB table as they are produced."""

    database: str | Path
    table: str
    _con: object = field(default=None, repr=False)

    def write(self, table: pa.Table) -> None:
        if self._con is None:
            import duckdb

            self._con = duckdb.connect(str(self.database))
            self._con.execute(
                f'CREATE OR REPLACE TABLE "{self.table}" (row BIGINT, label_quality DOUBLE, '
                "is_label_issue BOOLEAN, suggested_label INTEGER)"
            )
        self._con.register("_labelaudit_batch", table)
        self._con.execute(f'INSERT INTO "{self.table}" SELECT * FROM _labelaudit_batch')
        self._con.unregister("_labelaudit_batch")

    def close(self) -> None:
        if self._con is None:
            self.write(RESULT_SCHEMA.empty_table())
        self._con.close()

    def describe(self) -> str:
        return f"{self.database}:{self.table}"


def _validated_batches(source, num_classes: int, renormalised: list | None = None):
    """Yield (first_row, labels, probs) with the validation policy applied batch by batch."""
    start = 0
    for labels, probs in source.batches():
        if probs.dtype not in (np.float32, np.float64):
            probs = probs.astype(np.float64)
        found = check_block(probs, row_offset=start)
        if found.bad_rows:
            raise_for_bad_rows({reason: [rows] for reason, rows in found.bad_rows.items()})
        if len(found.renormalise_rows):
            probs[found.renormalise_rows - start] /= found.row_sums.astype(probs.dtype)[:, None]
            if renormalised is not None:
                renormalised.append(found.renormalise_rows)
        labels = check_label_values(labels, num_classes, row_offset=start)
        yield start, labels, probs
        start += len(labels)


@dataclass
class _Spill:
    """Self-confidences spilled to disk grouped by class, to take exact per-class means in row order."""

    directory: Path
    dtype: np.dtype | None = None
    pieces: list = field(default_factory=list)  # (class, offset, length)
    offset: int = 0

    def add(self, labels: np.ndarray, self_conf: np.ndarray, num_classes: int, handle) -> None:
        self.dtype = self_conf.dtype
        groups = kernels.LabelGroups.from_labels(labels, num_classes)
        self_conf[groups.order].tofile(handle)
        for k in np.flatnonzero(groups.counts):
            self.pieces.append((int(k), self.offset + int(groups.starts[k]), int(groups.counts[k])))
        self.offset += len(labels)

    def thresholds(self, num_classes: int) -> np.ndarray:
        """Per-class means read back one class at a time (memory: the largest class's values)."""
        by_class: list[list] = [[] for _ in range(num_classes)]
        for k, offset, length in self.pieces:
            by_class[k].append((offset, length))
        means = []
        with open(self.directory / "self_conf.bin", "rb") as handle:
            for pieces in by_class:
                parts = []
                for offset, length in pieces:
                    handle.seek(offset * self.dtype.itemsize)
                    parts.append(np.fromfile(handle, dtype=self.dtype, count=length))
                means.append(np.mean(np.concatenate(parts)) if parts else None)
        return kernels.clip_thresholds(means)


def _first_pass(source, num_classes: int, workdir: Path):
    spill, renormalised = _Spill(workdir), []
    counts = np.zeros(num_classes, dtype=np.int64)
    with open(workdir / "self_conf.bin", "wb") as handle:
        for _, labels, probs in _validated_batches(source, num_classes, renormalised):
            spill.add(labels, kernels.self_confidence(labels, probs), num_classes, handle)
            counts += np.bincount(labels, minlength=num_classes)
    if counts.sum() == 0:
        raise InvalidPredProbsError("the source has no rows", column="pred_probs")
    if renormalised:
        warn_renormalised(np.concatenate(renormalised), stacklevel=4)
    return counts, spill.thresholds(num_classes)


def _positive_margin_cells(labels, probs, self_conf, not_top, num_classes) -> np.ndarray:
    """Flat (given * K + j) cell ids of every positive margin ``p_j - p_given`` among `not_top` rows."""
    margins = probs[not_top] - self_conf[not_top, None]
    position, cell = np.nonzero(margins > 0)
    return labels[not_top][position] * num_classes + cell, not_top[position], margins[position, cell]


def _second_pass(source, num_classes: int, thresholds: np.ndarray):
    joint = np.zeros((num_classes, num_classes), dtype=np.int64)
    positive = np.zeros(num_classes * num_classes, dtype=np.int64)
    for _, labels, probs in _validated_batches(source, num_classes):
        self_conf = kernels.self_confidence(labels, probs)
        passed = kernels.confident_pass(labels, probs, self_conf, thresholds)
        joint += passed.counts
        cells, _, _ = _positive_margin_cells(labels, probs, self_conf, passed.not_top, num_classes)
        positive += np.bincount(cells, minlength=num_classes * num_classes)
    # same column-major layout as the in-memory confident joint (whole-matrix sums depend on it)
    return np.asfortranarray(joint), positive.reshape(num_classes, num_classes)


@dataclass
class _TopBuffers:
    """Per cell, the best ``wanted[cell]`` (key, row) pairs seen so far: larger key first, then lower row.

    Rows arrive in increasing order (batches stream in row order), and each buffer is kept in increasing row
    order, so :func:`labelaudit.cl._engine.kernels.largest` on (buffer + new) applies exactly the tie rule.
    """

    wanted: np.ndarray
    keys: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)

    def merge(self, cells: np.ndarray, rows: np.ndarray, keys: np.ndarray) -> None:
        keep = self.wanted[cells] > 0
        order = np.argsort(cells[keep], kind="stable")
        cells, rows, keys = cells[keep][order], rows[keep][order], keys[keep][order]
        if not len(cells):
            return
        starts = np.flatnonzero(np.concatenate(([True], cells[1:] != cells[:-1])))
        for begin, end in zip(starts, [*starts[1:], len(cells)], strict=True):
            self._merge_cell(int(cells[begin]), rows[begin:end], keys[begin:end])

    def _merge_cell(self, cell: int, rows: np.ndarray, keys: np.ndarray) -> None:
        if cell in self.rows:
            rows, keys = np.concatenate((self.rows[cell], rows)), np.concatenate((self.keys[cell], keys))
        wanted = int(self.wanted[cell])
        if len(rows) > wanted:
            pick = kernels.largest(keys, wanted)
            rows, keys = rows[pick], keys[pick]
        self.rows[cell], self.keys[cell] = rows, keys

    def selected(self) -> np.ndarray:
        """Every buffered row once, increasing (a row can be chosen by several cells)."""
        return kernels.sorted_unique_rows(list(self.rows.values()))


@dataclass(frozen=True)
class _Plan:
    """What pass 3 must collect, decided from the label counts and the calibrated joint."""

    noise_wanted: np.ndarray  # flat (given * K + true): rows each noise cell flags, 0 if none
    whole_class: np.ndarray  # flat bool: the cell needs every row of its class as a candidate
    class_wanted: np.ndarray  # (K,): rows prune_by_class flags per class

    @classmethod
    def build(cls, label_counts, calibrated, positive, *, min_examples_per_class, frac_noise) -> _Plan:
        prune = latent.keep_at_least_n_per_class(calibrated.T, n=min_examples_per_class, frac_noise=frac_noise)
        eligible = label_counts > max(min_examples_per_class, 1)
        noise = prune.T.copy()  # [given, true]
        np.fill_diagonal(noise, 0)
        noise[~eligible] = 0
        class_wanted = np.where(eligible, label_counts - np.diagonal(prune), 0).clip(min=0)
        return cls(noise.reshape(-1), (positive < noise).reshape(-1), class_wanted)

    def noise_candidates(self, labels, probs, self_conf, not_top, start):
        """(cells, global rows, margins) of this batch's candidates for the noise-rate cells."""
        num_classes = probs.shape[1]
        cells, rows, margins = _positive_margin_cells(labels, probs, self_conf, not_top, num_classes)
        keep = ~self.whole_class[cells]
        parts = [(cells[keep], rows[keep], margins[keep])]
        for cell in np.flatnonzero(self.whole_class & (self.noise_wanted > 0)):
            given, true = divmod(int(cell), num_classes)
            members = np.flatnonzero(labels == given)
            parts.append((np.full(len(members), cell), members, probs[members, true] - self_conf[members]))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]) + start,
            np.concatenate([p[2] for p in parts]),
        )


def _third_pass(source, num_classes, thresholds, plan: _Plan, filter_by: str):
    noise = _TopBuffers(plan.noise_wanted)
    by_class = _TopBuffers(plan.class_wanted)
    for start, labels, probs in _validated_batches(source, num_classes):
        self_conf = kernels.self_confidence(labels, probs)
        if filter_by in ("prune_by_noise_rate", "both"):
            not_top = np.flatnonzero(self_conf < probs.max(axis=1))
            noise.merge(*plan.noise_candidates(labels, probs, self_conf, not_top, start))
        if filter_by in ("prune_by_class", "both"):
            by_class.merge(labels.astype(np.int64), np.arange(start, start + len(labels)), -self_conf)
    if filter_by == "prune_by_noise_rate":
        return noise.selected()
    if filter_by == "prune_by_class":
        return by_class.selected()
    return np.intersect1d(noise.selected(), by_class.selected(), assume_unique=True)


def _batch_candidates(filter_by, flagged, passed, start, num_rows) -> np.ndarray:
    """Batch-local rows flagged before the final un-flagging step."""
    if filter_by == "confident_learning":
        return passed.off_diagonal
    if filter_by == "predicted_neq_given":
        return passed.not_top
    lo, hi = np.searchsorted(flagged, [start, start + num_rows])
    return flagged[lo:hi] - start


def _fourth_pass(source, sink, num_classes, thresholds, filter_by, flagged) -> int:
    num_issues = 0
    for start, labels, probs in _validated_batches(source, num_classes):
        self_conf = kernels.self_confidence(labels, probs)
        passed = kernels.confident_pass(labels, probs, self_conf, thresholds, keep_predicted=True)
        candidates = _batch_candidates(filter_by, flagged, passed, start, len(labels))
        issues = candidates[~kernels.keep_given_label(labels, probs, candidates)] if len(candidates) else candidates
        mask = np.zeros(len(labels), dtype=bool)
        mask[issues] = True
        num_issues += len(issues)
        sink.write(
            pa.table(
                {
                    "row": np.arange(start, start + len(labels), dtype=np.int64),
                    "label_quality": self_conf.astype(np.float64),
                    "is_label_issue": mask,
                    "suggested_label": passed.predicted.astype(np.int32),
                },
                schema=RESULT_SCHEMA,
            )
        )
    return num_issues


# Over 60 lines: the signature and numpydoc (30 lines, every option documented) are most of it; the body is 35.
def confident_learning_summary_out_of_core(
    source: ParquetSource | DuckDBSource | str | Path,
    output: ParquetSink | DuckDBSink | str | Path,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    converge_latent_estimates: bool = False,
    workdir: str | Path | None = None,
) -> ConfidentLearningSummary:
    """Out-of-core :func:`labelaudit.cl.filter.confident_learning_summary`: same estimates, rows written out.

    Parameters
    ----------
    source : ParquetSource, DuckDBSource, or a Parquet path (label column ``label``, one column per class)
    output : ParquetSink, DuckDBSink, or a Parquet path
        Receives, batch by batch, columns ``row`` (int64, position in the source), ``label_quality``
        (self-confidence), ``is_label_issue`` and ``suggested_label`` (argmax).
    filter_by : {"prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"}
    frac_noise, min_examples_per_class, converge_latent_estimates :
        As in :func:`labelaudit.cl.filter.confident_learning_summary`.
    workdir : path, optional
        Where the temporary self-confidence spill (4 or 8 bytes per row) goes; default a temporary directory.

    Returns
    -------
    ConfidentLearningSummary
        Per-row fields are ``None``; ``output`` names where they were written. Four passes over the source
        (three for ``confident_learning`` and ``predicted_neq_given`` would do, but the same four are run).
    """
    if filter_by not in SUPPORTED:
        raise ValueError(f"filter_by must be one of {SUPPORTED} out of core, got {filter_by!r}")
    source = ParquetSource(source) if isinstance(source, str | Path) else source
    sink = ParquetSink(output) if isinstance(output, str | Path) else output
    num_classes = len(source.columns())
    if num_classes < 2:
        raise InvalidPredProbsError(f"need at least 2 probability columns, got {num_classes}", column="pred_probs")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="labelaudit-ooc-") as tmp:
        label_counts, thresholds = _first_pass(source, num_classes, Path(tmp))
    raw, positive = _second_pass(source, num_classes, thresholds)
    np.fill_diagonal(raw, raw.diagonal().clip(min=1))
    calibrated = latent.calibrate(raw, label_counts)
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        _warn_small(label_counts, min_examples_per_class)
        plan = _Plan.build(
            label_counts, calibrated, positive, min_examples_per_class=min_examples_per_class, frac_noise=frac_noise
        )
        flagged = _third_pass(source, num_classes, thresholds, plan, filter_by)
    else:
        flagged = np.empty(0, dtype=np.int64)
    try:
        num_issues = _fourth_pass(source, sink, num_classes, thresholds, filter_by, flagged)
    finally:
        sink.close()
    return summary_from_parts(
        issue_mask=None,
        label_quality=None,
        suggested_label=None,
        calibrated=calibrated,
        label_counts=label_counts,
        filter_by=filter_by,
        num_issues=num_issues,
        converge_latent_estimates=converge_latent_estimates,
        output=sink.describe(),
    )


def _warn_small(label_counts: np.ndarray, min_examples_per_class: int) -> None:
    small = np.flatnonzero(label_counts <= min_examples_per_class)
    if len(small):
        warnings.warn(
            f"May not flag all label issues in classes {', '.join(map(str, small[:10]))}: they have too few "
            "examples (see argument: `min_examples_per_class`)",
            stacklevel=3,
        )
