"""A probabilities file scored out of core (``labelaudit score``): what its Parquet footer says, and the
memory each streamed pass may use.

Memory is bounded by the batch size and DuckDB's memory limit (both derived from the ``memory_budget``
setting), not by the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from labelaudit.inputs.readers import SourceInfo

__all__ = ["ProbabilityTable", "batch_rows_for", "connect", "duckdb_memory_limit"]


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


def connect(table: ProbabilityTable, workdir: Path | None = None):
    """An in-memory DuckDB connection within the memory limit, spilling to ``workdir``."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_memory_limit(table.memory_budget)}'")
    if workdir is not None:
        con.execute("SET temp_directory = ?", [str(workdir / "duckdb-tmp")])
    return con
