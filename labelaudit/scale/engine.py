"""The driver: runs the four passes over partitions through an executor and merges the partial results.

The driver holds O(K^2 + issues): label counts, the joint, the selection buffers (at most the rows each cell
flags) and the flagged rows; never a per-row array. Partials are merged as they arrive (any order), so it never
holds every partition's partial either. The executor is anything with ``imap(fn, items, *args)`` yielding
results in any order, and ``reduce(fn, items, combine, *args)`` folding the results with an associative,
order-independent ``combine(a, b, *args)``: :class:`LocalExecutor` (a loop, for tests and notebooks) or
:class:`labelaudit.scale.dask_engine.DaskExecutor`, which combines on the workers as a tree. The selection pass
reduces that way: its partials are O(issues) each, and folding 50 of them one by one on the driver took half of
a 1e8-row run (``benchmarks/README.md``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from labelaudit.cl._engine import kernels, latent
from labelaudit.cl._engine.validation import InvalidPredProbsError, warn_renormalised
from labelaudit.cl.filter import ConfidentLearningSummary, summary_from_parts
from labelaudit.cl.outofcore import _Plan, _warn_small
from labelaudit.errors import InputDataError
from labelaudit.scale import passes, results
from labelaudit.scale.partitions import Columns, Partition
from labelaudit.scale.spill import group_pieces

__all__ = ["DistributedSummary", "LocalExecutor", "ScoreSpec", "score_partitions"]

FILTERS = (*passes.PRUNING, "confident_learning", "predicted_neq_given", *passes.RANKING)


class LocalExecutor:
    """Runs every task in this process, one after another (the reference executor)."""

    workers = 1
    name = "local"

    def imap(self, fn: Callable, items: Iterable, *args) -> Iterator:
        for item in items:
            yield fn(item, *args)

    def reduce(self, fn: Callable, items: Iterable, combine: Callable, *args):
        """``combine`` over ``fn(item, *args)`` for every item, left to right; None when there are no items."""
        merged = None
        for result in self.imap(fn, items, *args):
            merged = result if merged is None else combine(merged, result, *args)
        return merged


@dataclass(frozen=True)
class ScoreSpec:
    """The scoring options (as :func:`labelaudit.cl.filter.confident_learning_summary`) and where files go."""

    columns: Columns
    work_url: str  # spill (deleted at the end) and staging; any fsspec location the workers can all reach
    results_url: str  # the committed per-row results: <results_url>/rows/part-*.parquet and _SUCCESS
    filter_by: str = "prune_by_noise_rate"
    frac_noise: float = 1.0
    min_examples_per_class: int = 1
    converge_latent_estimates: bool = False
    id_buckets: int = 64
    collect_issues: bool = True  # the flagged rows on the driver (O(issues)); else only in the Parquet rows


@dataclass(frozen=True)
class DistributedSummary:
    """The summary of the in-memory path, plus the per-class counts, flagged rows and where the rows went."""

    summary: ConfidentLearningSummary
    given: np.ndarray
    flagged: np.ndarray
    correct: np.ndarray
    log_loss: float
    issues: pa.Table
    rows_url: str
    partitions: int


def _first_pass(partitions, ctx, executor):
    k = ctx.num_classes
    counts = np.zeros((len(partitions), k), dtype=np.int64)
    buckets = np.zeros((len(partitions), ctx.id_buckets), dtype=np.int64)
    renormalised, renorm_rows, dtype = 0, [], None
    for partial in executor.imap(passes.count_partition, partitions, ctx):
        counts[partial.index] = partial.label_counts
        if partial.bucket_counts is not None:
            buckets[partial.index] = partial.bucket_counts
        renormalised += partial.renormalised
        renorm_rows.append(partial.renormalised_rows)
        dtype = dtype or partial.dtype
    if counts.sum() == 0:
        raise InvalidPredProbsError("the source has no rows", column="pred_probs")
    if renormalised:
        warn_renormalised(np.sort(np.concatenate(renorm_rows)), stacklevel=4)
    return counts, buckets, dtype


def _thresholds(partitions, ctx, counts, dtype, executor) -> np.ndarray:
    urls = [passes.spill_urls(ctx, p.index)["self_conf"] for p in partitions]
    pieces = [group_pieces(urls, counts, k) for k in range(ctx.num_classes)]
    means = dict(executor.imap(_indexed_mean, list(enumerate(pieces)), dtype))
    return kernels.clip_thresholds([means[k] for k in range(ctx.num_classes)])


def _indexed_mean(item, dtype):
    k, pieces = item
    return k, passes.class_mean(pieces, dtype)


def _indexed_duplicates(item):
    _bucket, hash_pieces, row_pieces = item
    return passes.duplicate_hash_rows(hash_pieces, row_pieces)


def _check_unique_ids(partitions, ctx, buckets, executor) -> None:
    """Id uniqueness by hash bucket (memory N/B x 16 bytes per task); hash collisions confirmed on the ids."""
    if ctx.columns.id_column is None:
        return
    hashes = [passes.spill_urls(ctx, p.index)["id_hash"] for p in partitions]
    rows = [passes.spill_urls(ctx, p.index)["id_row"] for p in partitions]
    items = [(b, group_pieces(hashes, buckets, b), group_pieces(rows, buckets, b)) for b in range(ctx.id_buckets)]
    suspects = np.sort(np.concatenate([np.empty(0, np.int64), *executor.imap(_indexed_duplicates, items)]))[:1000]
    if not len(suspects):
        return
    starts = np.array([p.row_start for p in partitions])
    owner = np.searchsorted(starts, suspects, side="right") - 1
    found = {}
    for index in np.unique(owner):
        part = partitions[index]
        mine = suspects[owner == index]
        for row, value in zip(mine, passes.ids_at(part, ctx, mine), strict=True):
            found.setdefault(value, []).append((int(row), part))
    repeated = [(value, where) for value, where in found.items() if len(where) > 1]
    if repeated:
        value, where = repeated[0]
        value = value.item() if hasattr(value, "item") else value
        files = sorted({p.path or p.describe() for _, p in where})
        raise InputDataError(
            f"id {value!r} occurs more than once (in {', '.join(files)}); {len(repeated)} repeated ids found "
            "among the first candidates",
            column=ctx.columns.id_column,
            rows=[row for row, _ in where],
        )


def _joint(partitions, ctx, executor):
    k = ctx.num_classes
    counts = np.zeros((k, k), dtype=np.int64)
    positive = np.zeros(k * k, dtype=np.int64)
    off_diagonal = 0
    for partial in executor.imap(passes.joint_partition, partitions, ctx):
        counts += partial.counts
        positive += partial.positive
        off_diagonal += partial.off_diagonal
    return np.asfortranarray(counts), positive.reshape(k, k), off_diagonal


def _rows_of(buffers: dict) -> np.ndarray:
    return kernels.sorted_unique_rows([rows for rows, _ in buffers.values()])


def _select(partitions, ctx, executor) -> np.ndarray:
    if ctx.filter_by in ("confident_learning", "predicted_neq_given"):
        return np.empty(0, dtype=np.int64)
    merged = executor.reduce(passes.select_partition, partitions, passes.merge_selections, ctx)
    if ctx.filter_by in passes.RANKING:
        return np.sort(merged.ranking[0])
    if ctx.filter_by == "prune_by_noise_rate":
        return _rows_of(merged.noise)
    if ctx.filter_by == "prune_by_class":
        return _rows_of(merged.by_class)
    return np.intersect1d(_rows_of(merged.noise), _rows_of(merged.by_class), assume_unique=True)


def _write(partitions, ctx, flagged, staging, executor):
    k = ctx.num_classes
    given, issues_per_class, correct = (np.zeros(k, dtype=np.int64) for _ in range(3))
    log_loss, tables = 0.0, []
    starts = np.array([p.row_start for p in partitions] + [partitions[-1].row_start + partitions[-1].num_rows])
    cuts = np.searchsorted(flagged, starts)
    items = [(p, flagged[cuts[i] : cuts[i + 1]]) for i, p in enumerate(partitions)]
    for partial in executor.imap(_write_item, items, ctx, staging):
        given += partial.given
        issues_per_class += partial.flagged
        correct += partial.correct
        log_loss += partial.log_loss_sum
        tables.append(partial.issues)
    issues = pa.concat_tables(tables) if tables else results.ROW_SCHEMA.empty_table()
    return given, issues_per_class, correct, log_loss, issues.sort_by("row_idx")


def _write_item(item, ctx, staging):
    part, flagged = item
    return results.write_partition(part, ctx, flagged, staging)


def _remove(url: str, attempts: int = 5) -> None:
    """Remove a spill or staging folder. After a failed pass, tasks already running on other workers may still
    write into it for a moment (cancelling does not stop them), so retry; if files keep appearing, leave it (a
    per-run token names it, nothing reads it, the next commit removes leftover staging) rather than hide the
    pass's own error behind this one."""
    import time

    import fsspec.core

    fs, path = fsspec.core.url_to_fs(url)
    for attempt in range(attempts):
        try:
            if fs.exists(path):
                fs.rm(path, recursive=True)
            return
        except OSError:
            time.sleep(0.2 * (attempt + 1))


def _plan(ctx, label_counts, calibrated, positive, off_diagonal, spec):
    if spec.filter_by in passes.PRUNING:
        _warn_small(label_counts, spec.min_examples_per_class)
        plan = _Plan.build(
            label_counts,
            calibrated,
            positive,
            min_examples_per_class=spec.min_examples_per_class,
            frac_noise=spec.frac_noise,
        )
        return replace(ctx, plan=plan)
    return replace(ctx, ranking_count=off_diagonal)


def score_partitions(partitions: list[Partition], spec: ScoreSpec, executor=None) -> DistributedSummary:
    """Exact confident learning over `partitions` through `executor`; per-row results committed as Parquet.

    Parameters
    ----------
    partitions : list of Partition
        In global row order (``partitions[i].index == i``), e.g. from
        :func:`labelaudit.scale.partitions.parquet_partitions`; sizes may be uneven, some may be empty.
    spec : ScoreSpec
        Columns, ``filter_by`` (every method of :func:`labelaudit.cl.filter.find_label_issues`), options, and the
        work and results locations.
    executor : LocalExecutor, DaskExecutor or anything with ``imap``; default :class:`LocalExecutor`.

    Returns
    -------
    DistributedSummary
        ``summary`` equals ``confident_learning_summary(labels, probs, ...)`` on the concatenated rows (its
        per-row fields are ``None``: they are in ``rows_url``, one file per partition, row_idx = global row).
    """
    if spec.filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {spec.filter_by!r}")
    if len(spec.columns.prob_columns) < 2:
        raise InvalidPredProbsError("need at least 2 probability columns", column="pred_probs")
    executor = executor or LocalExecutor()
    token = uuid.uuid4().hex[:12]
    ctx = passes.Context(
        spec.columns,
        f"{spec.work_url}/spill-{token}",
        spec.filter_by,
        spec.id_buckets,
        collect_issues=spec.collect_issues,
    )
    staging = f"{spec.results_url}/_staging-{token}"
    try:
        counts, buckets, dtype = _first_pass(partitions, ctx, executor)
        _check_unique_ids(partitions, ctx, buckets, executor)
        ctx = replace(ctx, thresholds=_thresholds(partitions, ctx, counts, dtype, executor))
        label_counts = counts.sum(axis=0)
        raw, positive, off_diagonal = _joint(partitions, ctx, executor)
        np.fill_diagonal(raw, raw.diagonal().clip(min=1))
        calibrated = latent.calibrate(raw, label_counts)
        ctx = _plan(ctx, label_counts, calibrated, positive, off_diagonal, spec)
        flagged = _select(partitions, ctx, executor)
        given, per_class, correct, log_loss, issues = _write(partitions, ctx, flagged, staging, executor)
    except BaseException:
        _remove(staging)
        raise
    finally:
        _remove(ctx.spill_url)
    rows_url = f"{spec.results_url}/rows"
    num_issues = int(per_class.sum())
    manifest = {"rows": int(label_counts.sum()), "issues": num_issues, "partitions": len(partitions)}
    results.commit(staging, rows_url, manifest)
    summary = summary_from_parts(
        issue_mask=None,
        label_quality=None,
        suggested_label=None,
        calibrated=calibrated,
        label_counts=label_counts,
        filter_by=spec.filter_by,
        num_issues=num_issues,
        converge_latent_estimates=spec.converge_latent_estimates,
        output=rows_url,
    )
    return DistributedSummary(
        summary, given, per_class, correct, log_loss / max(1, int(label_counts.sum())), issues, rows_url,
        len(partitions),
    )  # fmt: skip
