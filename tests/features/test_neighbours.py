"""k nearest neighbours: every backend equals the brute-force reference (exact) or nearly (approximate)."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.features.neighbours import BACKENDS, EXACT_MAX_ROWS, choose_backend, nearest_neighbours

EXACT = ["exact", "kd_tree", "ball_tree", "brute"]


def _reference(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(matrix)
    distances, indices = np.empty((n, k)), np.empty((n, k), dtype=np.int64)
    for i in range(n):
        d = np.linalg.norm(matrix.astype(np.float64) - matrix[i], axis=1)
        d[i] = np.inf
        order = np.argsort(d, kind="stable")[:k]
        distances[i], indices[i] = d[order], order
    return distances, indices


@pytest.mark.parametrize("backend", EXACT)
def test_exact_backends_equal_the_reference(backend: str) -> None:
    matrix = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    distances, indices = nearest_neighbours(matrix, 4, backend=backend)
    ref_d, ref_i = _reference(matrix, 4)
    assert distances.shape == (300, 4) and indices.dtype == np.int64
    np.testing.assert_allclose(distances, ref_d, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(indices, ref_i)


@pytest.mark.parametrize("backend", [*EXACT, "faiss_hnsw", "faiss_ivf"])
def test_a_row_is_never_its_own_neighbour_even_with_exact_copies(backend: str) -> None:
    matrix = np.zeros((6, 2), dtype=np.float32)  # six identical rows: every distance is 0
    distances, indices = nearest_neighbours(matrix, 5, backend=backend)
    assert not (indices == np.arange(6)[:, None]).any()
    assert (np.sort(indices, axis=1) == np.array([[j for j in range(6) if j != i] for i in range(6)])).all()
    assert (distances == 0).all()


@pytest.mark.parametrize("backend", ["faiss_ivf", "faiss_hnsw"])
def test_approximate_backend_has_high_recall(backend: str) -> None:
    """faiss's IVF index (the ``auto`` choice for large batches) and HNSW graph; pynndescent is only benchmarked."""
    rng = np.random.default_rng(1)
    matrix = (rng.normal(0, 4, (20, 8))[rng.integers(0, 20, 3000)] + rng.normal(size=(3000, 8))).astype(np.float32)
    _, found = nearest_neighbours(matrix, 10, backend=backend, seed=0)
    _, truth = nearest_neighbours(matrix, 10, backend="brute")
    assert not (found == np.arange(3000)[:, None]).any()
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True))
    assert hits / truth.size >= 0.95


def test_bad_arguments_are_refused() -> None:
    matrix = np.zeros((5, 2))
    with pytest.raises(ValueError, match="between 1 and N - 1 = 4"):
        nearest_neighbours(matrix, 5)
    with pytest.raises(ValueError, match="unknown backend"):
        nearest_neighbours(matrix, 2, backend="annoy")


def test_auto_is_exact_below_the_documented_size() -> None:
    assert choose_backend(EXACT_MAX_ROWS - 1, 32) == "exact"
    assert choose_backend(EXACT_MAX_ROWS, 32) == "faiss_ivf" and "faiss_ivf" in BACKENDS


def test_ivf_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(5000, 6)).astype(np.float32)
    first = nearest_neighbours(matrix, 5, backend="faiss_ivf", seed=4)
    again = nearest_neighbours(matrix, 5, backend="faiss_ivf", seed=4)
    np.testing.assert_array_equal(first[1], again[1])
