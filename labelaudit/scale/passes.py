"""The out-of-core scorer's passes (:mod:`labelaudit.cl.outofcore`) as map steps over partitions plus merges.

Each ``*_partition`` function reads one partition, does its part and returns a small partial result; each merge
is exact and does not depend on the order partials arrive in, so a loop, threads or a Dask cluster all give the
bits of :func:`labelaudit.cl.filter.confident_learning_summary` on data that fits:

1. :func:`count_partition`: validate, count labels, spill self-confidences grouped by class (and id hashes by
   bucket); the thresholds are then :func:`class_mean` per class over the spill, read in row order.
2. :func:`joint_partition`: confident-joint counts, positive-margin counts per cell, and the number of rows
   off the diagonal that the final un-flagging keeps flagged (the ranking methods' global count); sums.
3. :func:`select_partition`: per cell (noise rate), per class (prune by class) or globally (ranking methods) the
   partition's best candidates, at most the number the cell flags; two partials are merged by
   :func:`merge_selections` (per cell :func:`merge_top`, which orders by key, then row: the tie rule), so any
   tree of merges over the partitions gives the in-memory selection.
4. :func:`write_partition` (in :mod:`labelaudit.scale.results`): the per-row results, written by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.cl._engine import kernels
from labelaudit.cl._engine.validation import check_block, raise_for_bad_rows
from labelaudit.cl.outofcore import _Plan, _TopBuffers
from labelaudit.cl.rank import SCORERS
from labelaudit.errors import InputDataError
from labelaudit.scale.partitions import Columns, Partition, PartitionData, read_partition
from labelaudit.scale.spill import read_group, write_grouped

__all__ = [
    "RANKING",
    "Context",
    "class_mean",
    "confident_pass",
    "count_partition",
    "joint_partition",
    "load",
    "merge_selections",
    "merge_top",
    "select_partition",
]

#: Ranking-based methods: the global count of off-diagonal rows, lowest scores first, never un-flagged.
RANKING = {"low_normalized_margin": "normalized_margin", "low_self_confidence": "self_confidence"}
PRUNING = ("prune_by_noise_rate", "prune_by_class", "both")


@dataclass(frozen=True)
class Context:
    """What every map step needs; shipped to the workers with each task (small: O(K^2) plus urls)."""

    columns: Columns
    spill_url: str
    filter_by: str = "prune_by_noise_rate"
    id_buckets: int = 64
    thresholds: np.ndarray | None = None
    plan: _Plan | None = None
    ranking_count: int = 0
    collect_issues: bool = True

    @property
    def num_classes(self) -> int:
        return len(self.columns.prob_columns)


def load(part: Partition, ctx: Context) -> tuple[PartitionData, np.ndarray]:
    """Read and validate one partition (the tolerance policy of the in-memory path); renormalised rows too."""
    data = read_partition(part, ctx.columns)
    probs = data.probs
    if not len(probs):  # an empty file or row group: nothing to check
        return data, np.empty(0, dtype=np.int64)
    found = check_block(probs, row_offset=part.row_start)
    if found.bad_rows:
        try:
            raise_for_bad_rows({reason: [rows] for reason, rows in found.bad_rows.items()})
        except InputDataError as exc:
            raise InputDataError(f"{exc.detail} ({part.describe()})", source=part.path, rows=exc.rows) from exc
    if len(found.renormalise_rows):
        probs[found.renormalise_rows - part.row_start] /= found.row_sums.astype(probs.dtype)[:, None]
    return data, found.renormalise_rows


def confident_pass(labels, probs, self_conf, thresholds, *, keep_predicted=False) -> kernels.ConfidentPass:
    """:func:`labelaudit.cl._engine.kernels.confident_pass`, also for an empty partition."""
    if len(labels):
        return kernels.confident_pass(labels, probs, self_conf, thresholds, keep_predicted=keep_predicted)
    k, none = probs.shape[1], np.empty(0, dtype=np.int64)
    return kernels.ConfidentPass(np.zeros((k, k), dtype=np.int64), none, none, none if keep_predicted else None)


@dataclass(frozen=True)
class CountPartial:
    """Pass 1 of one partition: label counts (K,), id-bucket counts (B,), renormalised rows (first ones)."""

    index: int
    label_counts: np.ndarray
    bucket_counts: np.ndarray | None
    renormalised: int
    renormalised_rows: np.ndarray
    dtype: str


def spill_urls(ctx: Context, index: int) -> dict[str, str]:
    return {name: f"{ctx.spill_url}/{name}/part-{index:07d}.bin" for name in ("self_conf", "id_hash", "id_row")}


def count_partition(part: Partition, ctx: Context) -> CountPartial:
    """Pass 1: validate, count labels, spill self-confidence by class and id hashes by bucket."""
    data, renormalised = load(part, ctx)
    self_conf = kernels.self_confidence(data.labels, data.probs)
    urls = spill_urls(ctx, part.index)
    counts = write_grouped(urls["self_conf"], self_conf, data.labels, ctx.num_classes)
    buckets = None
    if data.ids is not None:
        import pandas as pd

        hashes = pd.util.hash_array(np.asarray(data.ids, dtype=object) if data.ids.dtype.kind in "OUS" else data.ids)
        bucket = (hashes % np.uint64(ctx.id_buckets)).astype(np.int64)
        buckets = write_grouped(urls["id_hash"], hashes, bucket, ctx.id_buckets)
        rows = np.arange(part.row_start, part.row_start + part.num_rows, dtype=np.int64)
        write_grouped(urls["id_row"], rows, bucket, ctx.id_buckets)
    return CountPartial(part.index, counts, buckets, len(renormalised), renormalised[:10], self_conf.dtype.str)


def class_mean(pieces: list[tuple[str, int, int]], dtype: str):
    """``np.mean`` of one class's self-confidences in row order (``None`` for an absent class): the same bits."""
    values = read_group(pieces, dtype)
    return np.mean(values) if len(values) else None


def duplicate_hash_rows(hash_pieces, row_pieces) -> np.ndarray:
    """Rows (sorted) whose id hash occurs more than once in this bucket: the only rows that may repeat an id."""
    hashes = read_group(hash_pieces, "<u8")
    rows = read_group(row_pieces, "<i8")
    order = np.argsort(hashes, kind="stable")
    hashes, rows = hashes[order], rows[order]
    same = hashes[1:] == hashes[:-1]
    repeated = np.zeros(len(hashes), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    return np.sort(rows[repeated])


def ids_at(part: Partition, ctx: Context, rows: np.ndarray) -> np.ndarray:
    """The ids of some global `rows` of this partition (to confirm a hash collision is a real duplicate)."""
    data = read_partition(part, ctx.columns)
    return data.ids[rows - part.row_start]


@dataclass(frozen=True)
class JointPartial:
    """Pass 2 of one partition: confident-joint counts (K, K), positive-margin counts (K*K,), kept off-diagonal."""

    counts: np.ndarray
    positive: np.ndarray
    off_diagonal: int


def joint_partition(part: Partition, ctx: Context) -> JointPartial:
    """Pass 2: counts that merge by addition."""
    data, _ = load(part, ctx)
    labels, probs, k = data.labels, data.probs, ctx.num_classes
    self_conf = kernels.self_confidence(labels, probs)
    passed = confident_pass(labels, probs, self_conf, ctx.thresholds)
    margins = probs[passed.not_top] - self_conf[passed.not_top, None]
    position, cell = np.nonzero(margins > 0)
    cells = labels[passed.not_top][position] * k + cell
    off = passed.off_diagonal
    kept = kernels.keep_given_label(labels, probs, off) if len(off) else np.zeros(0, dtype=bool)
    return JointPartial(np.asarray(passed.counts), np.bincount(cells, minlength=k * k), int(len(off) - kept.sum()))


def merge_top(current, new, wanted: int, *, largest: bool = True):
    """The best `wanted` of two ``(rows, keys)`` buffers: larger (or smaller) key first, then lower row.

    Each buffer is in increasing row order (as every pass-3 buffer is), and so is the result: then the tie rule
    is "lowest position", which :func:`kernels.largest` applies in O(n) (``np.partition``), and putting two
    row-ordered buffers in row order is one merge of two sorted runs (a stable sort), not an O(n log n) sort by
    key. Order-independent: the same pairs give the same selection whichever buffer came first.
    """
    if len(current[0]) and len(new[0]) and new[0][-1] < current[0][0]:
        current, new = new, current
    rows = np.concatenate((current[0], new[0]))
    keys = np.concatenate((current[1], new[1]))
    if len(current[0]) and len(new[0]) and new[0][0] < current[0][-1]:  # interleaved row ranges
        order = np.argsort(rows, kind="stable")
        rows, keys = rows[order], keys[order]
    if len(rows) <= wanted:
        return rows, keys
    pick = kernels.largest(keys, wanted) if largest else kernels.smallest(keys, wanted)
    return rows[pick], keys[pick]


@dataclass(frozen=True)
class SelectPartial:
    """Pass 3 of one partition: per cell (flat given*K+true) and per class buffers, and the ranking buffer."""

    noise: dict
    by_class: dict
    ranking: tuple[np.ndarray, np.ndarray] | None


def _ranking_buffer(data: PartitionData, part: Partition, ctx: Context):
    scores = SCORERS[RANKING[ctx.filter_by]](data.labels, data.probs)
    pick = kernels.smallest(scores, ctx.ranking_count)
    return pick.astype(np.int64) + part.row_start, scores[pick]


def select_partition(part: Partition, ctx: Context) -> SelectPartial:
    """Pass 3: this partition's candidates, at most as many per cell as the cell flags (global rows)."""
    data, _ = load(part, ctx)
    if ctx.filter_by in RANKING:
        return SelectPartial({}, {}, _ranking_buffer(data, part, ctx))
    labels, probs, start = data.labels, data.probs, part.row_start
    self_conf = kernels.self_confidence(labels, probs)
    noise, by_class = _TopBuffers(ctx.plan.noise_wanted), _TopBuffers(ctx.plan.class_wanted)
    if ctx.filter_by in ("prune_by_noise_rate", "both"):
        not_top = np.flatnonzero(self_conf < probs.max(axis=1))
        noise.merge(*ctx.plan.noise_candidates(labels, probs, self_conf, not_top, start))
    if ctx.filter_by in ("prune_by_class", "both"):
        by_class.merge(labels.astype(np.int64), np.arange(start, start + len(labels)), -self_conf)
    pairs = lambda b: {cell: (b.rows[cell], b.keys[cell]) for cell in b.rows}  # noqa: E731
    return SelectPartial(pairs(noise), pairs(by_class), None)


def _merge_cells(a: dict, b: dict, wanted: np.ndarray) -> dict:
    merged = dict(a)
    for cell, pair in b.items():
        merged[cell] = merge_top(merged[cell], pair, int(wanted[cell])) if cell in merged else pair
    return merged


def merge_selections(a: SelectPartial, b: SelectPartial, ctx: Context) -> SelectPartial:
    """The selection of two partials' rows together: associative and order-independent (a tree of merges on
    the workers gives the same buffers as a fold on the driver)."""
    if ctx.filter_by in RANKING:
        return SelectPartial({}, {}, merge_top(a.ranking, b.ranking, ctx.ranking_count, largest=False))
    return SelectPartial(
        _merge_cells(a.noise, b.noise, ctx.plan.noise_wanted),
        _merge_cells(a.by_class, b.by_class, ctx.plan.class_wanted),
        None,
    )
