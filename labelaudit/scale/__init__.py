"""Confident learning at scale: exact map-reduce passes over partitions, on any executor (a loop, Dask).

- :mod:`~labelaudit.scale.partitions`: what a partition is (a Parquet file's row groups, or rows generated from a
  seed), found from a directory, a glob or an fsspec URL, each named by file and global row range in errors;
- :mod:`~labelaudit.scale.passes`: the out-of-core scorer's passes as per-partition functions returning small
  partial results, and the merges, so that any executor gives the in-memory path's bits;
- :mod:`~labelaudit.scale.spill`: values grouped by key written per partition and read back per key in row order
  (the exact class thresholds, and id uniqueness by hash bucket without every id in one process);
- :mod:`~labelaudit.scale.engine`: the driver: runs the passes through an executor, commits the per-row Parquet
  results only when every partition succeeded;
- :mod:`~labelaudit.scale.dask_engine`: the executor on a ``distributed.Client`` (local cluster or scheduler).

Knows nothing of Prefect or of runs; ``labelaudit score --engine dask`` wraps it.
"""

from labelaudit.scale.engine import DistributedSummary, LocalExecutor, ScoreSpec, score_partitions
from labelaudit.scale.partitions import Partition, generated_partitions, parquet_partitions

__all__ = [
    "DistributedSummary",
    "LocalExecutor",
    "Partition",
    "ScoreSpec",
    "generated_partitions",
    "parquet_partitions",
    "score_partitions",
]
