"""The map-reduce passes equal the in-memory path (and cleanlab) bit for bit, whatever the partitioning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelaudit.cl import filter
from labelaudit.scale import LocalExecutor, ScoreSpec, parquet_partitions, score_partitions
from tests.cl._oracle import cl_find, noisy_data, tied_data
from tests.scale.helpers import columns, read_rows, write_dataset

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)


class ShuffledTreeExecutor(LocalExecutor):
    """Partials in a random order, reduced as a random tree: what a cluster may do (the merges must not care)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def imap(self, fn, items, *args):
        items = list(items)
        for i in self.rng.permutation(len(items)):
            yield fn(items[i], *args)

    def reduce(self, fn, items, combine, *args):
        pool = list(self.imap(fn, items, *args))
        while len(pool) > 1:
            first = pool.pop(int(self.rng.integers(len(pool))))
            second = pool.pop(int(self.rng.integers(len(pool))))
            pool.append(combine(first, second, *args))
        return pool[0] if pool else None


def run(folder, work, k, filter_by, *, partition_rows=1, executor=None, **options):
    spec = ScoreSpec(columns(k), str(work / "work"), str(work / "out"), filter_by=filter_by, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score_partitions(parquet_partitions(str(folder), partition_rows=partition_rows), spec, executor)


def assert_equal(result, labels, probs, filter_by, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = filter.confident_learning_summary(labels, probs, filter_by=filter_by, **options)
    rows = read_rows(result.rows_url)
    np.testing.assert_array_equal(rows["row_idx"], np.arange(len(labels)))
    np.testing.assert_array_equal(rows["is_issue"], expected.issue_mask)
    np.testing.assert_array_equal(rows["label_quality"], expected.label_quality.astype(np.float64))
    np.testing.assert_array_equal(rows["suggested_label"], expected.suggested_label)
    for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix", "py"):
        np.testing.assert_array_equal(getattr(result.summary, name), getattr(expected, name))
    assert result.summary.num_issues == expected.num_issues == result.issues.num_rows
    np.testing.assert_array_equal(result.issues.column("row_idx").to_numpy(), np.flatnonzero(expected.issue_mask))
    return expected


CASES = {
    "f32-k6": lambda: noisy_data(3000, 6, seed=7),
    "tied-k4": lambda: tied_data(2000, 4, steps=5, seed=8),
    "weak-f64-k3": lambda: noisy_data(2500, 3, signal=0.3, dtype=np.float64, seed=9),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("filter_by", FILTERS)
def test_every_filter_equals_in_memory_and_cleanlab(tmp_path, case, filter_by):
    labels, probs = CASES[case]()
    folder = write_dataset(tmp_path / "in", labels, probs, [5, 5, 400, 1999], group_rows=97)
    result = run(folder, tmp_path, probs.shape[1], filter_by, partition_rows=150)
    expected = assert_equal(result, labels, probs, filter_by)
    assert result.partitions > 10
    np.testing.assert_array_equal(expected.issue_mask, cl_find(labels, probs, filter_by=filter_by))


@pytest.mark.parametrize(("frac_noise", "min_examples"), [(0.5, 1), (1.0, 700)])
def test_pruning_options(tmp_path, frac_noise, min_examples):
    labels, probs = noisy_data(3000, 5, seed=10)
    folder = write_dataset(tmp_path / "in", labels, probs, [1000], group_rows=333)
    options = {"frac_noise": frac_noise, "min_examples_per_class": min_examples}
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        result = run(folder, tmp_path / filter_by, 5, filter_by, partition_rows=500, **options)
        assert_equal(result, labels, probs, filter_by, **options)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(30, 400),
    k=st.integers(2, 5),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    group_rows=st.integers(1, 60),
    partition_rows=st.integers(1, 200),
    filter_by=st.sampled_from(FILTERS),
    tied=st.booleans(),
)
def test_random_partitionings(tmp_path_factory, seed, n, k, cuts, group_rows, partition_rows, filter_by, tied):
    """Uneven files, row groups and partitions, empty files included, partials arriving in any order and merged
    as any tree: the same flags, scores and suggestions."""
    labels, probs = tied_data(n, k, steps=4, seed=seed) if tied else noisy_data(n, k, seed=seed, noise=0.3)
    tmp = tmp_path_factory.mktemp("p")
    folder = write_dataset(tmp / "in", labels, probs, sorted(int(c * n) for c in cuts), group_rows=group_rows)
    executor = ShuffledTreeExecutor(seed)
    result = run(folder, tmp, k, filter_by, partition_rows=partition_rows, executor=executor)
    assert_equal(result, labels, probs, filter_by)


def test_thresholds_keep_numpy_pairwise_bits(tmp_path):
    """Adversarial float32 values: a sum in another order or exactly rounded would differ from np.mean."""
    rng = np.random.default_rng(3)
    n = 20_000
    big = rng.random(n).astype(np.float32) * np.float32(0.98) + np.float32(0.01)
    probs = np.stack([big, 1 - big], axis=1).astype(np.float32)
    labels = np.zeros(n, dtype=np.int64)
    labels[::7] = 1
    assert np.mean(big[labels == 0]) != np.float32(np.mean(big[labels == 0].astype(np.float64)))
    folder = write_dataset(tmp_path / "in", labels, probs, [3, 1234, 9999], group_rows=501)
    result = run(folder, tmp_path, 2, "prune_by_noise_rate", partition_rows=1000)
    assert_equal(result, labels, probs, "prune_by_noise_rate")


def test_result_set_is_committed_with_its_manifest(tmp_path):
    labels, probs = noisy_data(500, 3, seed=1)
    folder = write_dataset(tmp_path / "in", labels, probs, [100])
    result = run(folder, tmp_path, 3, "prune_by_noise_rate", partition_rows=100, executor=LocalExecutor())
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["rows"]  # no staging folder left
    assert (out / "rows" / "_SUCCESS").exists()
    assert not list((tmp_path / "work").iterdir())  # the spill is removed
    assert len(list((out / "rows").glob("part-*.parquet"))) == result.partitions
