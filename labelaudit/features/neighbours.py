"""The k nearest neighbours of every row of a feature space (Euclidean), the row itself excluded.

Backends are chosen by measurement (``benchmarks/bench_neighbours.py``, figures and choice in
``benchmarks/README.md``). ``backend="auto"`` uses :data:`AUTO_RULE`. Every backend answers the same question and
returns the same shapes; they differ in speed and, for approximate ones, in recall.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Backend = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def _sklearn(algorithm: str) -> Backend:
    def search(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors

        index = NearestNeighbors(n_neighbors=k, algorithm=algorithm, n_jobs=-1).fit(matrix)
        distances, indices = index.kneighbors(matrix)
        return distances, indices

    return search


def _faiss_hnsw(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # An HNSW graph (32 links per node); measured slower to build than IVF at 1M rows (benchmarks/README.md).
    import faiss

    index = faiss.IndexHNSWFlat(matrix.shape[1], 32)
    index.hnsw.efSearch = max(64, 2 * k)
    index.add(matrix)
    distances, indices = index.search(matrix, k)
    return np.sqrt(np.maximum(distances, 0)), indices


#: IVF: 4 sqrt(N) k-means cells (at most N / 39), trained on a seeded sample of 50 rows per cell; each row
#: searches the 32 cells nearest to it. Measured recall@10 0.995 on 200,000 clustered rows (benchmarks/README.md).
IVF_CELLS_PER_SQRT_N = 4
IVF_PROBES = 32


def _faiss_ivf(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    n, d = matrix.shape
    cells = max(1, min(int(IVF_CELLS_PER_SQRT_N * np.sqrt(n)), n // 39))  # faiss wants >= 39 rows per cell
    sample = np.random.default_rng(seed).choice(n, size=min(n, 50 * cells), replace=False)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, cells)
    index.cp.seed = seed
    index.train(matrix[np.sort(sample)])
    index.add(matrix)
    index.nprobe = min(IVF_PROBES, cells)
    distances, indices = index.search(matrix, k)
    return _exact_where_short(matrix, np.sqrt(np.maximum(distances, 0)), indices)


def _exact_where_short(matrix: np.ndarray, distances: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # faiss pads with -1 when the probed cells hold fewer than k rows: search those few rows exactly.
    short = np.flatnonzero((indices < 0).any(axis=1))
    if short.size:
        from sklearn.neighbors import NearestNeighbors

        exact = NearestNeighbors(n_neighbors=indices.shape[1]).fit(matrix)
        distances[short], indices[short] = exact.kneighbors(matrix[short])
    return distances, indices


def _pynndescent(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from pynndescent import NNDescent

    # 30 neighbours in the graph, then the first k: with k + 1 = 11 the graph's recall@10 was 0.69 at 1M rows,
    # with 30 it was 0.98 (benchmarks/README.md). The first call in a process compiles (numba): ~30 s here.
    index = NNDescent(matrix, n_neighbors=max(k, 30), random_state=seed, n_jobs=-1, compressed=True)
    indices, distances = index.neighbor_graph
    return distances[:, :k], indices[:, :k]


BACKENDS: dict[str, Backend] = {
    "exact": _sklearn("auto"),
    "kd_tree": _sklearn("kd_tree"),
    "ball_tree": _sklearn("ball_tree"),
    "brute": _sklearn("brute"),
    "pynndescent": _pynndescent,
    "faiss_hnsw": _faiss_hnsw,
    "faiss_ivf": _faiss_ivf,
}

#: ``auto``: exact (scikit-learn, which picks a k-d tree at <= 15 dimensions, brute force above) below this many
#: rows; faiss's IVF index (approximate) at or above. Measured on 2 cores under load 3-6 (benchmarks/README.md,
#: "Nearest neighbours", k = 10, 32 dims): 100,000 rows took 42 s exact (brute), 180 s with a k-d tree;
#: 200,000 rows 7.9 s IVF (recall 0.995); 1,000,000 rows 169 s IVF (recall 0.92), 150 s pynndescent with 30
#: neighbours (recall 0.98, plus ~30 s compiling), 289 s HNSW (recall 0.97). IVF: one wheel, no compile step,
#: deterministic for a seed.
EXACT_MAX_ROWS = 50_000


def choose_backend(n_rows: int, dimensions: int) -> str:
    """The backend ``auto`` uses for a matrix of this size (see :data:`EXACT_MAX_ROWS`)."""
    return "exact" if n_rows < EXACT_MAX_ROWS else "faiss_ivf"


def nearest_neighbours(
    matrix: np.ndarray, k: int, *, backend: str = "auto", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of each row's k nearest other rows, nearest first.

    Parameters
    ----------
    matrix : np.ndarray (N, D)
        Rows as points (a :class:`labelaudit.features.space.FeatureSpace` matrix).
    k : int
        Neighbours per row; at most N - 1.
    backend : {"auto", "exact", "kd_tree", "ball_tree", "brute", "pynndescent", "faiss_hnsw", "faiss_ivf"}
        Exact scikit-learn searches ("exact" lets scikit-learn pick the algorithm), or approximate ones:
        nearest-neighbour descent (pynndescent), faiss's HNSW graph or its inverted-file index (IVF).
        Default "auto": :func:`choose_backend`.
    seed : int, default=0
        Seed of approximate backends (exact ones ignore it).

    Returns
    -------
    distances : np.ndarray (N, k) float32
        Euclidean distances, non-decreasing along each row.
    indices : np.ndarray (N, k) int64
        Row positions of the neighbours; never the row itself. An exact copy of a row is a neighbour at
        distance 0.

    Notes
    -----
    Equal to this slow reference loop (exact backends; approximate ones may miss some true neighbours)::

        for i in range(N):
            d = np.linalg.norm(matrix - matrix[i], axis=1)
            d[i] = np.inf
            order = np.argsort(d, kind="stable")[:k]
            distances[i], indices[i] = d[order], order
    """
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D (N, D), got shape {matrix.shape}")
    n = matrix.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and N - 1 = {n - 1} (rows: {n}), got {k}")
    name = choose_backend(n, matrix.shape[1]) if backend == "auto" else backend
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}")
    distances, indices = BACKENDS[name](matrix, min(k + 1, n), seed)
    return _drop_self(np.asarray(distances), np.asarray(indices), k)


def _drop_self(distances: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    # A search of the rows against themselves returns each row among its own neighbours, usually first; with
    # exact copies another row at distance 0 can come first, and an approximate search may miss the row
    # itself. Drop the row where it appears, else the farthest of the k + 1.
    n = indices.shape[0]
    is_self = indices == np.arange(n)[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    # a row found twice (approximate backends) keeps k + 1 - 2 columns: pad by repeating its last neighbour
    extra = keep.sum(axis=1) - k
    if (extra != 0).any():
        return _ragged(distances, indices, keep, k)
    out_d = distances[keep].reshape(n, k).astype(np.float32, copy=False)
    out_i = indices[keep].reshape(n, k).astype(np.int64, copy=False)
    return out_d, out_i


def _ragged(distances: np.ndarray, indices: np.ndarray, keep: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = indices.shape[0]
    out_d = np.empty((n, k), dtype=np.float32)
    out_i = np.empty((n, k), dtype=np.int64)
    for row in range(n):
        d, i = distances[row][keep[row]][:k], indices[row][keep[row]][:k]
        pad = k - d.size
        out_d[row] = np.concatenate([d, np.repeat(d[-1:], pad)]) if pad else d
        out_i[row] = np.concatenate([i, np.repeat(i[-1:], pad)]) if pad else i
    return out_d, out_i
