"""Shared by the scale tests: write rows as a Parquet dataset of several files with uneven row groups."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from labelaudit.scale.partitions import Columns


def columns(k: int, *, ids: bool = True) -> Columns:
    return Columns("label", tuple(f"p{j}" for j in range(k)), "id" if ids else None)


def write_dataset(folder, labels, probs, cuts, *, group_rows=7, ids=None):
    """Files split at `cuts` (sorted row numbers; repeated cuts give empty files), row groups of `group_rows`."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(len(labels)) * 3 + 11 if ids is None else ids
    bounds = [0, *cuts, len(labels)]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        table = pa.table(
            {"id": ids[lo:hi], "label": labels[lo:hi], **{f"p{j}": probs[lo:hi, j] for j in range(probs.shape[1])}}
        )
        pq.write_table(table, folder / f"part-{i:03d}.parquet", row_group_size=max(1, group_rows))
    return folder


def read_rows(rows_url) -> dict:
    """The committed per-row results, sorted by global row."""
    return pq.read_table(str(rows_url)).sort_by("row_idx").to_pydict()
