"""Pass 4: per-row results written by the workers, one Parquet file per partition, committed all at once.

Each partition's file goes to a staging folder (``_staging-<token>/part-<index>.parquet``, any fsspec
location); a retried task simply writes its file again. Only when every partition has succeeded does the driver
move the folder to ``rows/`` and then write ``_SUCCESS`` (the manifest: files, rows, issues). A killed run
leaves at most a ``_staging-*`` folder, which nothing reads and the next commit removes; readers (the DuckDB
view) require the manifest, so a half-written result set is never mistaken for a finished one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from labelaudit.cl._engine import kernels
from labelaudit.scale.partitions import Partition
from labelaudit.scale.passes import RANKING, Context, confident_pass, load

__all__ = ["ROW_SCHEMA", "WritePartial", "commit", "write_partition"]

MANIFEST = "_SUCCESS"


def row_schema(label_type: pa.DataType) -> pa.Schema:
    """Columns of every per-row file; labels are class names when the run has them, else class indices."""
    return pa.schema(
        [
            ("row_idx", pa.int64()),
            ("row_id", pa.string()),
            ("given_label", label_type),
            ("label_quality", pa.float64()),
            ("is_issue", pa.bool_()),
            ("suggested_label", label_type),
            ("suggested_prob", pa.float64()),
        ]
    )


ROW_SCHEMA = row_schema(pa.string())


@dataclass(frozen=True)
class WritePartial:
    """Pass 4 of one partition: per-class given / flagged / correct counts (K,), log-loss sum, flagged rows."""

    index: int
    given: np.ndarray
    flagged: np.ndarray
    correct: np.ndarray
    log_loss_sum: float
    issues: pa.Table


def _candidates(ctx: Context, passed, flagged: np.ndarray, part: Partition) -> np.ndarray:
    if ctx.filter_by == "confident_learning":
        return passed.off_diagonal
    if ctx.filter_by == "predicted_neq_given":
        return passed.not_top
    return flagged - part.row_start


def _names(indices: np.ndarray, ctx: Context) -> pa.Array:
    if ctx.columns.classes is None:
        return pa.array(indices.astype(np.int64))
    return pa.array(np.asarray(ctx.columns.classes, dtype=object)[indices], type=pa.string())


def write_partition(part: Partition, ctx: Context, flagged: np.ndarray, staging: str) -> WritePartial:
    """Score one partition with the final thresholds and selection; write its rows; return its counts."""
    data, _ = load(part, ctx)
    labels, probs, k = data.labels, data.probs, ctx.num_classes
    self_conf = kernels.self_confidence(labels, probs)
    passed = confident_pass(labels, probs, self_conf, ctx.thresholds, keep_predicted=True)
    candidates = _candidates(ctx, passed, flagged, part)
    if ctx.filter_by not in RANKING and len(candidates):
        candidates = candidates[~kernels.keep_given_label(labels, probs, candidates)]
    mask = np.zeros(len(labels), dtype=bool)
    mask[candidates] = True
    predicted = passed.predicted.astype(np.int64)
    rows = np.arange(part.row_start, part.row_start + len(labels), dtype=np.int64)
    ids = data.ids if data.ids is not None else rows
    table = pa.table(
        {
            "row_idx": rows,
            "row_id": pa.array(np.asarray(ids).astype(str)),
            "given_label": _names(labels, ctx),
            "label_quality": self_conf.astype(np.float64),
            "is_issue": mask,
            "suggested_label": _names(predicted, ctx),
            "suggested_prob": probs[np.arange(len(labels)), predicted].astype(np.float64),
        }
    )
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(f"{staging}/part-{part.index:07d}.parquet")
    fs.makedirs(staging_path(fs, staging), exist_ok=True)
    with fs.open(path, "wb") as handle:
        pq.write_table(table, handle)
    given = np.bincount(labels, minlength=k)
    losses = -np.log(np.clip(self_conf.astype(np.float64), 1e-15, None))
    return WritePartial(
        part.index,
        given,
        np.bincount(labels[mask], minlength=k),
        np.bincount(labels[predicted == labels], minlength=k),
        float(losses.sum()),
        table.filter(pa.array(mask)) if ctx.collect_issues else table.schema.empty_table(),
    )


def staging_path(fs, url: str) -> str:
    return fs._strip_protocol(url)


def commit(staging: str, final: str, manifest: dict) -> None:
    """Move the staging folder to `final` (replacing an earlier result set), then write the manifest last."""
    import fsspec.core

    fs, final_path = fsspec.core.url_to_fs(final)
    stage_path = staging_path(fs, staging)
    if fs.exists(f"{final_path}/{MANIFEST}"):
        fs.rm(f"{final_path}/{MANIFEST}")  # first: an interrupted replacement is then not mistaken for finished
    if fs.exists(final_path):
        fs.rm(final_path, recursive=True)
    fs.mv(stage_path, final_path, recursive=True)
    with fs.open(f"{final_path}/{MANIFEST}", "w") as handle:
        json.dump(manifest, handle, indent=1)
    parent = stage_path.rsplit("/", 1)[0]
    for leftover in fs.glob(f"{parent}/_staging-*"):  # of killed runs into the same place (one run per place)
        fs.rm(leftover, recursive=True)


def is_committed(final: str) -> bool:
    """Whether `final` holds a finished result set (its manifest exists)."""
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(final)
    return fs.exists(f"{path}/{MANIFEST}")
