"""A driver killed mid-run leaves nothing a later run could mistake for a finished result set."""

from __future__ import annotations

import subprocess
import sys
import time

import pyarrow.parquet as pq

from labelaudit.scale import ScoreSpec, generated_partitions, score_partitions
from labelaudit.scale.partitions import Columns
from labelaudit.scale.results import is_committed

SCRIPT = """
import sys
from labelaudit.scale import ScoreSpec, generated_partitions, score_partitions
from labelaudit.scale.partitions import Columns
cols = Columns("label", ("p0", "p1", "p2"))
spec = ScoreSpec(cols, sys.argv[1] + "/work", sys.argv[1] + "/out")
score_partitions(generated_partitions(4_000_000, partition_rows=100_000, seed=2), spec)
"""


def test_killed_driver_commits_nothing_and_a_rerun_commits(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("out/_staging-*/part-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until the last pass is writing rows
        assert child.poll() is None, "the run ended before it could be killed; make it bigger"
        child.kill()
    finally:
        child.wait()
    assert not is_committed(str(tmp_path / "out" / "rows"))
    assert not (tmp_path / "out" / "rows").exists()
    spec = ScoreSpec(Columns("label", ("p0", "p1", "p2")), str(tmp_path / "work"), str(tmp_path / "out"))
    result = score_partitions(generated_partitions(300_000, partition_rows=100_000, seed=2), spec)
    assert is_committed(result.rows_url)
    assert pq.read_table(result.rows_url).num_rows == 300_000
    assert not list((tmp_path / "out").glob("_staging-*"))  # the new run's staging was moved, not left
