"""k nearest neighbours of every row: which backend, at which size (issue 14).

Candidates: scikit-learn's k-d tree, ball tree and brute force (exact), pynndescent (approximate nearest-neighbour
descent), faiss (exact flat index and approximate HNSW graph) and DuckDB (exact, a SQL self-join with a top-k per
row; only at small sizes: it computes all N^2 distances). Data: a Gaussian mixture of 50 clusters (real features
are clustered, uniform noise is the worst case for every index). Reports the median of ``--repeats`` runs and the
recall@k of each approximate backend against the exact answer (on a sample of rows at large sizes).

Examples::

    python benchmarks/bench_neighbours.py --quick
    python benchmarks/bench_neighbours.py --rows 100000 1000000 --dims 32 100 --k 10 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from labelaudit.features.neighbours import BACKENDS, nearest_neighbours


def _faiss_flat(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexFlatL2(matrix.shape[1])
    index.add(matrix)
    distances, indices = index.search(matrix, k)
    return np.sqrt(np.maximum(distances, 0)), indices


def _duckdb(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import duckdb
    import pandas as pd

    d = matrix.shape[1]
    con = duckdb.connect()
    frame = pd.DataFrame({"id": np.arange(len(matrix)), "v": list(matrix)})  # noqa: F841 (read by the SQL)
    con.execute(f"create table p as select id, v::float[{d}] as v from frame")
    rows = con.execute(
        f"""select a.id, b.id as nb, array_distance(a.v, b.v) as dist,
                   row_number() over (partition by a.id order by array_distance(a.v, b.v), b.id) as r
            from p a, p b qualify r <= {k} order by a.id, r"""
    ).fetchnumpy()
    n = len(matrix)
    return rows["dist"].reshape(n, k), rows["nb"].reshape(n, k)


EXTRA = {"faiss_flat": _faiss_flat, "duckdb": _duckdb}


def clustered(rows: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(50, dims))
    return (centres[rng.integers(0, 50, rows)] + rng.normal(0, 1, size=(rows, dims))).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def exact_sample(matrix: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """True neighbours of a sample of rows, by brute force against all rows (self excluded)."""
    out = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), 64):
        part = rows[start : start + 64]
        d = ((matrix[part, None, :] - matrix[None, :, :]) ** 2).sum(-1) if len(matrix) < 20_000 else None
        if d is None:
            d = (matrix[part] ** 2).sum(1)[:, None] - 2 * matrix[part] @ matrix.T + (matrix**2).sum(1)[None, :]
        d[np.arange(len(part)), part] = np.inf
        nearest = np.argpartition(d, k, axis=1)[:, :k]  # then order those k: a full sort of 1M columns is slow
        order = np.argsort(np.take_along_axis(d, nearest, axis=1), axis=1, kind="stable")
        out[start : start + len(part)] = np.take_along_axis(nearest, order, axis=1)
    return out


def run(backend: str, matrix: np.ndarray, k: int, repeats: int) -> tuple[float, np.ndarray]:
    times, indices = [], None
    for repeat in range(repeats):
        started = time.perf_counter()
        if backend in EXTRA:
            BACKENDS[backend] = EXTRA[backend]
        _, indices = nearest_neighbours(matrix, k, backend=backend, seed=repeat)
        times.append(time.perf_counter() - started)
    return statistics.median(times), indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[32])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=[*BACKENDS, *EXTRA])
    parser.add_argument("--max-tree-rows", type=int, default=300_000, help="skip ball_tree/brute above this")
    parser.add_argument("--max-duckdb-rows", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 rows x 16 dims, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.dims, args.repeats = [2_000, 10_000], [16], 1
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, k {args.k}, median of {args.repeats}")
    print(f"{'rows':>9} {'dims':>4} {'backend':<12} {'seconds':>8} {'recall@k':>8}")
    for dims in args.dims:
        for rows in args.rows:
            matrix = clustered(rows, dims, seed=0)
            sample = np.random.default_rng(1).choice(rows, size=min(rows, 1_000), replace=False)
            truth = exact_sample(matrix, sample, args.k)
            for backend in args.backends:
                if backend in {"ball_tree", "brute"} and rows > args.max_tree_rows:
                    continue
                if backend == "duckdb" and rows > args.max_duckdb_rows:
                    continue
                seconds, indices = run(backend, matrix, args.k, args.repeats)
                print(f"{rows:>9} {dims:>4} {backend:<12} {seconds:>8.2f} {recall(indices[sample], truth):>8.3f}")


if __name__ == "__main__":
    main()
