"""Partitions: the unit of work the passes map over, each named by its file and global row range.

A partition is either some consecutive row groups of one Parquet file (found from a directory, a glob or any
fsspec URL; a directory is read recursively, so Hive-partitioned datasets work) or rows generated from a seed
(benchmarks: a billion rows without a 40 GB file, through the same reading code as a file). Global row numbers
follow the files in sorted path order, then the row groups in file order: the same order a single file scored
in memory would give, which is what makes the results comparable row by row.

Memory of reading one partition: ``rows x (8 K + 16)`` bytes for float64 probabilities (``4 K`` for float32),
plus the Arrow buffers of the same size while converting: the partition size is the knob of a worker's memory.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelaudit.cl._engine.validation import check_label_values
from labelaudit.errors import InputDataError

__all__ = ["Columns", "Partition", "PartitionData", "generated_partitions", "parquet_partitions", "read_partition"]


@dataclass(frozen=True)
class Partition:
    """Rows ``row_start .. row_start + num_rows - 1`` (global numbers) of one file's row groups, or generated."""

    index: int
    row_start: int
    num_rows: int
    path: str | None = None
    row_groups: tuple[int, ...] = ()
    seed: int | None = None

    def describe(self) -> str:
        """Where this partition is, for error messages: file (and row groups) and global rows."""
        where = self.path if self.path is not None else f"generated partition {self.index} (seed {self.seed})"
        last = self.row_start + self.num_rows - 1
        return f"{where}, rows {self.row_start}-{last} of the dataset"


@dataclass(frozen=True)
class Columns:
    """Which columns hold the id, the given label and the probabilities (in class order), and the classes."""

    label_column: str
    prob_columns: tuple[str, ...]
    id_column: str | None = None
    classes: tuple[str, ...] | None = None  # names the labels use when the label column holds strings


@dataclass(frozen=True)
class PartitionData:
    """One partition in memory: ids (N,) or None, labels (N,) int64 class indices, probs (N, K) float."""

    ids: np.ndarray | None
    labels: np.ndarray
    probs: np.ndarray


def _filesystem(url: str):
    import fsspec.core

    return fsspec.core.url_to_fs(url)


def dataset_files(url: str) -> list[str]:
    """The Parquet files of a source (a file, a directory read recursively, or a glob), in sorted order."""
    fs, path = _filesystem(url)
    if globlib.has_magic(path):
        found = fs.glob(path)
    elif fs.isdir(path):
        found = fs.glob(path.rstrip("/") + "/**/*.parquet")
    elif fs.exists(path):
        found = [path]
    else:
        raise InputDataError("no such file, folder or glob", source=url)
    files = sorted(f for f in found if not f.rsplit("/", 1)[-1].startswith(("_", ".")) and not fs.isdir(f))
    if not files:
        raise InputDataError("matches no Parquet file", source=url)
    return [fs.unstrip_protocol(f) if "://" in url else f for f in files]


def _open(path: str) -> pq.ParquetFile:
    fs, local = _filesystem(path)
    try:
        return pq.ParquetFile(fs.open(local, "rb"), pre_buffer=False)
    except Exception as exc:  # pyarrow raises several unrelated types for a file that is not Parquet
        raise InputDataError(f"cannot be read as Parquet: {exc}", source=path) from exc


def parquet_partitions(url: str, *, partition_rows: int = 1 << 20) -> list[Partition]:
    """Partitions of consecutive row groups of each file, about `partition_rows` rows each (>= one row group).

    Reads only the files' footers (on the caller). Uneven sizes are fine: the passes are exact whatever the
    partitioning.
    """
    parts: list[Partition] = []
    start = 0
    for path in dataset_files(url):
        meta = _open(path).metadata
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            groups.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= partition_rows or g == meta.num_row_groups - 1:
                parts.append(Partition(len(parts), start, rows, path, tuple(groups)))
                start, groups, rows = start + rows, [], 0
    return parts


def generated_partitions(num_rows: int, *, partition_rows: int = 1 << 20, seed: int = 0) -> list[Partition]:
    """Partitions of rows generated from `seed` (see :func:`generate_rows`), numbered like a file's rows."""
    starts = range(0, num_rows, partition_rows)
    return [Partition(i, s, min(partition_rows, num_rows - s), seed=seed) for i, s in enumerate(starts)]


def generate_rows(part: Partition, num_classes: int) -> PartitionData:
    """Float32 probabilities of a decent model and 10% flipped labels, a pure function of (seed, index)."""
    rng = np.random.default_rng([part.seed or 0, part.index])
    n = part.num_rows
    truth = rng.integers(num_classes, size=n)
    logits = rng.standard_normal((n, num_classes), dtype=np.float32)
    logits[np.arange(n), truth] += np.float32(2.5)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    flip = rng.random(n) < 0.1
    labels = np.where(flip, rng.integers(num_classes, size=n), truth)
    return PartitionData(np.arange(part.row_start, part.row_start + n, dtype=np.int64), labels, logits)


def _labels(column: pa.ChunkedArray, columns: Columns, part: Partition, num_classes: int) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        if columns.classes is None:
            raise InputDataError("the label column holds text but no class names were given", source=part.path)
        codes = pc.index_in(column, value_set=pa.array(columns.classes, type=column.type))
        bad = np.flatnonzero(codes.is_null().to_numpy(zero_copy_only=False))
        if len(bad):
            raise InputDataError(
                f"labels not among the classes ({part.describe()})",
                source=part.path,
                column=columns.label_column,
                rows=(bad + part.row_start).tolist(),
            )
        return codes.to_numpy(zero_copy_only=False).astype(np.int64)
    nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
    if len(nulls):
        raise InputDataError(
            f"missing labels ({part.describe()})",
            source=part.path,
            column=columns.label_column,
            rows=(nulls + part.row_start).tolist(),
        )
    try:
        return check_label_values(column.to_numpy(), num_classes, row_offset=part.row_start)
    except InputDataError as exc:
        raise InputDataError(f"{exc} ({part.describe()})", source=part.path, column=columns.label_column) from exc


def _probabilities(table: pa.Table, columns: Columns, part: Partition) -> np.ndarray:
    arrays = []
    for name in columns.prob_columns:
        column = table.column(name)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise InputDataError(f"is {column.type}, not a number", source=part.path, column=name)
        arrays.append(column.to_numpy())  # nulls become NaN for floats; the probability checks name their rows
    dtype = np.result_type(*[a.dtype for a in arrays])
    dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    probs = np.empty((table.num_rows, len(arrays)), dtype=dtype)
    for j, values in enumerate(arrays):
        probs[:, j] = values
    return probs


def read_partition(part: Partition, columns: Columns) -> PartitionData:
    """The partition's ids, class indices and probabilities; bad values raise naming its file and rows."""
    if part.path is None:
        return generate_rows(part, len(columns.prob_columns))
    wanted = [c for c in (columns.id_column, columns.label_column, *columns.prob_columns) if c is not None]
    parquet = _open(part.path)
    missing = [c for c in wanted if c not in parquet.schema_arrow.names]
    if missing:
        raise InputDataError(f"has no column {', '.join(map(repr, missing))}", source=part.path)
    table = parquet.read_row_groups(list(part.row_groups), columns=wanted)
    if table.num_rows != part.num_rows:
        raise InputDataError(
            f"has {table.num_rows} rows in row groups {part.row_groups}, {part.num_rows} when the run started; "
            "was it changed while it was being scored?",
            source=part.path,
        )
    ids = None
    if columns.id_column is not None:
        id_column = table.column(columns.id_column)
        nulls = np.flatnonzero(id_column.is_null().to_numpy(zero_copy_only=False))
        if len(nulls):
            raise InputDataError(
                f"missing ids ({part.describe()})",
                source=part.path,
                column=columns.id_column,
                rows=(nulls + part.row_start).tolist(),
            )
        ids = id_column.to_numpy(zero_copy_only=False)
    labels = _labels(table.column(columns.label_column), columns, part, len(columns.prob_columns))
    return PartitionData(ids, labels, _probabilities(table, columns, part))
