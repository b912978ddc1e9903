"""Exact confident learning on Dask: rows generated on the workers from a seed, or a Parquet dataset from disk.

Usage::

    python benchmarks/bench_dask_scoring.py --rows 1e7 --workers 1 2         # scaling, 1 vs 2 workers
    python benchmarks/bench_dask_scoring.py --rows 1e9 --workers 2           # the billion-row run
    python benchmarks/bench_dask_scoring.py --rows 1e8 --write /data/probs   # write a dataset (not timed) ...
    python benchmarks/bench_dask_scoring.py --source /data/probs --workers 2 # ... and score it from disk

Generated rows (``labelaudit.scale.partitions.generate_rows``: float32 softmax, 10% flipped labels, a pure
function of (seed, partition)) go through the same passes and reading code path as a Parquet partition; only the
source of the arrays differs. For each worker count: the floor (one map over the partitions that reads the
probabilities once and reduces them to a number), then the four passes of ``score_partitions``; reported: wall
time, rows per second, the scorer's time as a multiple of the floor, and peak RSS (``ru_maxrss``) of each worker
and of the driver. Per-row results go to ``--out`` (default a temporary folder: 30 bytes per row, 30 GB at 1e9,
removed after each run); a digest of every committed row (DuckDB over the Parquet, not timed) shows that 1, 2
and 4 workers give the same rows.
Progress (pass, partitions done) is printed every 10 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from labelaudit.scale import ScoreSpec, generated_partitions, parquet_partitions, score_partitions
from labelaudit.scale.dask_engine import dask_executor
from labelaudit.scale.partitions import Columns, generate_rows, read_partition


class Progress:
    """Wraps an executor: prints each pass's partitions done every `every` seconds, and the driver's time
    between passes (merging, planning, submitting) where it is over a second."""

    def __init__(self, executor, every: float = 10.0) -> None:
        self.executor, self.every = executor, every
        self.pass_ended: float | None = None

    def _pass_starts(self) -> float:
        now = time.monotonic()
        if self.pass_ended is not None and now - self.pass_ended >= 1:
            print(f"  driver between passes: {now - self.pass_ended:.0f} s", flush=True)
        return now

    def reduce(self, fn, items, combine, *args):
        started = self._pass_starts()
        merged = self.executor.reduce(fn, items, combine, *args)
        self.pass_ended = time.monotonic()
        print(f"  {fn.__name__} + {combine.__name__}: {self.pass_ended - started:.0f} s", flush=True)
        return merged

    def imap(self, fn, items, *args):
        items = list(items)
        started = last = self._pass_starts()
        for done, result in enumerate(self.executor.imap(fn, items, *args), 1):
            now = time.monotonic()
            if now - last >= self.every or done == len(items):
                print(f"  {fn.__name__}: {done}/{len(items)} tasks, {now - started:.0f} s", flush=True)
                last = now
            yield result
        self.pass_ended = time.monotonic()


def _floor_task(part, cols):
    data = read_partition(part, cols) if part.path else generate_rows(part, len(cols.prob_columns))
    return float(data.probs[:, 0].sum())


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def results_digest(rows_url: str) -> str:
    """A digest of every committed row (not timed): equal digests mean equal flags, scores and suggestions."""
    import duckdb

    query = f"""SELECT count(*), sum(is_issue::INT), bit_xor(hash(row_idx, given_label, label_quality, is_issue,
                suggested_label, suggested_prob)) FROM read_parquet('{rows_url}/*.parquet')"""
    rows, issues, digest = duckdb.connect().execute(query).fetchone()
    return f"{rows}:{issues}:{digest:016x}"


def run_once(parts, cols, workers: int, out: str, filter_by: str, *, keep: bool) -> dict:
    with warnings.catch_warnings(), dask_executor(workers=workers, memory_limit=None) as executor:
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        sum(executor.imap(_floor_task, parts, cols))
        floor = time.perf_counter() - started
        spec = ScoreSpec(cols, f"{out}/work", f"{out}/w{workers}", filter_by=filter_by, collect_issues=False)
        started = time.perf_counter()
        progress = Progress(executor)
        result = score_partitions(parts, spec, progress)
        wall = time.perf_counter() - started
        print(f"  driver after the last pass (commit): {time.monotonic() - progress.pass_ended:.0f} s", flush=True)
        workers_rss = sorted(executor.client.run(_peak_rss_mib).values())
    driver_rss = _peak_rss_mib()
    rows = sum(p.num_rows for p in parts)
    # in a process of its own: DuckDB's buffers would count in the driver's peak RSS of the next run
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        digest = pool.submit(results_digest, result.rows_url).result()
    if not keep:
        shutil.rmtree(f"{out}/w{workers}", ignore_errors=True)  # 30 bytes a row: 30 GB at 1e9
    return {
        "workers": workers,
        "rows": rows,
        "partitions": len(parts),
        "floor_s": round(floor, 2),
        "wall_s": round(wall, 2),
        "rows_per_s": round(rows / wall),
        "x_floor": round(wall / floor, 2),
        "issues": result.summary.num_issues,
        "worker_peak_rss_mib": [round(r) for r in workers_rss],
        "driver_peak_rss_mib": round(driver_rss),
        "digest": digest,
    }


def write_dataset(folder: str, rows: int, classes: int, partition_rows: int, seed: int) -> None:
    """Write generated partitions as one Parquet file each (not timed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in generated_partitions(rows, partition_rows=partition_rows, seed=seed):
        data = generate_rows(part, classes)
        table = pa.table({"id": data.ids, "label": data.labels, **{f"p{j}": data.probs[:, j] for j in range(classes)}})
        pq.write_table(table, f"{folder}/part-{part.index:06d}.parquet", row_group_size=1 << 18)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e6)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partition-rows", type=float, default=2e6)
    parser.add_argument("--filter-by", default="prune_by_noise_rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", help="score this Parquet dataset (folder, glob, URL) instead of generated rows")
    parser.add_argument("--write", help="write generated rows as a Parquet dataset to this folder and stop")
    parser.add_argument("--out", help="where per-row results go (default: a temporary folder, removed)")
    args = parser.parse_args()
    rows, partition_rows = int(args.rows), int(args.partition_rows)
    if args.write:
        write_dataset(args.write, rows, args.classes, partition_rows, args.seed)
        return
    if args.source:
        parts = parquet_partitions(args.source, partition_rows=partition_rows)
        cols = Columns("label", tuple(f"p{j}" for j in range(args.classes)), "id")
    else:
        parts = generated_partitions(rows, partition_rows=partition_rows, seed=args.seed)
        cols = Columns("label", tuple(f"p{j}" for j in range(args.classes)))
    out = args.out or tempfile.mkdtemp(prefix="labelaudit-bench-dask-")
    try:
        results = []
        for workers in args.workers:
            print(f"{workers} worker(s), {sum(p.num_rows for p in parts):,} rows, {len(parts)} partitions", flush=True)
            results.append(run_once(parts, cols, workers, out, args.filter_by, keep=bool(args.out)))
            print(json.dumps(results[-1]), flush=True)
        if len(results) > 1:
            print(f"speed-up {results[0]['workers']} -> {results[-1]['workers']} workers: "
                  f"{results[0]['wall_s'] / results[-1]['wall_s']:.2f}x")  # fmt: skip
            same = len({r["digest"] for r in results}) == 1
            print(f"results identical for {args.workers} workers: {'yes' if same else 'NO'}")
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
