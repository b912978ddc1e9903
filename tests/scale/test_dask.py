"""On a real local Dask cluster (2 worker processes, loopback): exact, names bad partitions, survives a kill."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest

from labelaudit.errors import InputDataError
from labelaudit.scale import LocalExecutor, ScoreSpec, generated_partitions, parquet_partitions, score_partitions
from labelaudit.scale.dask_engine import dask_executor
from labelaudit.scale.partitions import Columns
from tests.cl._oracle import noisy_data
from tests.scale.helpers import columns, read_rows, write_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executor():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dask_executor(workers=2, memory_limit="1GiB") as ex:
            yield ex


def _score(partitions, cols, tmp, filter_by, executor):
    spec = ScoreSpec(cols, str(tmp / "work"), str(tmp / "out"), filter_by=filter_by)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score_partitions(partitions, spec, executor)


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "both", "low_normalized_margin"])
def test_dask_equals_the_local_loop(tmp_path, executor, filter_by):
    labels, probs = noisy_data(6000, 5, seed=4)
    folder = write_dataset(tmp_path / "in", labels, probs, [17, 17, 2500, 5999], group_rows=211)
    parts = parquet_partitions(str(folder), partition_rows=400)
    distributed = _score(parts, columns(5), tmp_path / "dask", filter_by, executor)
    local = _score(parts, columns(5), tmp_path / "local", filter_by, LocalExecutor())
    assert executor.workers == 2
    assert read_rows(distributed.rows_url) == read_rows(local.rows_url)
    np.testing.assert_array_equal(distributed.summary.noise_matrix, local.summary.noise_matrix)
    assert distributed.issues.equals(local.issues)


@pytest.mark.parametrize("items", [1, 2, 7, 16, 33])
def test_reduce_is_a_balanced_tree_on_the_workers(executor, items):
    """Every item is combined exactly once, and the tree is as shallow as a binary tree can be, whatever order
    the map tasks finish in (pairing whatever finished next degenerates into a fold: depth ~ items)."""

    def leaf(item):
        time.sleep(0.01 * ((item * 7919) % 5))  # map tasks finish out of order
        return item, 1, 0  # sum, leaves, depth

    def combine(a, b):
        return a[0] + b[0], a[1] + b[1], max(a[2], b[2]) + 1

    total, leaves, depth = executor.reduce(leaf, range(items), combine)
    assert (total, leaves) == (sum(range(items)), items)
    assert depth == int(np.ceil(np.log2(items)))


def test_bad_partition_is_named(tmp_path, executor):
    labels, probs = noisy_data(900, 3, seed=5)
    probs = probs.copy()
    probs[610, 1] = np.nan
    folder = write_dataset(tmp_path / "in", labels, probs, [300, 600])
    with pytest.raises(InputDataError, match=r"part-002\.parquet.*rows 600-899") as raised:
        _score(parquet_partitions(str(folder)), columns(3), tmp_path, "prune_by_noise_rate", executor)
    assert "610" in str(raised.value) and "NaN" in str(raised.value)
    assert not (tmp_path / "out" / "rows").exists()


def test_repeated_id_across_files_is_found_by_hash_bucket(tmp_path, executor):
    labels, probs = noisy_data(800, 3, seed=6)
    ids = np.arange(800)
    ids[700] = 5  # the id of row 5, in another file
    folder = write_dataset(tmp_path / "in", labels, probs, [400], ids=ids)
    with pytest.raises(InputDataError, match=r"rows 5, 700: id 5 occurs more than once.*part-000.*part-001"):
        _score(parquet_partitions(str(folder)), columns(3), tmp_path, "prune_by_noise_rate", executor)


def test_killed_worker_gives_the_same_result(tmp_path, executor):
    """A worker process killed mid-run: its tasks rerun elsewhere; the committed rows equal a clean run's."""
    parts = generated_partitions(1_200_000, partition_rows=50_000, seed=11)
    cols = Columns("label", tuple(f"p{j}" for j in range(4)))
    pids = list(executor.client.run(os.getpid).values())
    done = threading.Event()

    def kill_one():
        time.sleep(1.5)
        if not done.is_set():
            os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        killed = _score(parts, cols, tmp_path / "killed", "prune_by_noise_rate", executor)
    finally:
        done.set()
        killer.join()
    clean = _score(parts, cols, tmp_path / "clean", "prune_by_noise_rate", LocalExecutor())
    assert pids[0] not in executor.client.run(os.getpid).values()  # the kill happened (the nanny restarted it)
    assert killed.issues.equals(clean.issues)
    assert pq.read_table(killed.rows_url).sort_by("row_idx").equals(pq.read_table(clean.rows_url).sort_by("row_idx"))
