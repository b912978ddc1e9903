"""The database under faults: held by another process, or not writable. Exit codes and run states tell the truth."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelaudit.store import AuditStore
from tests.conftest import Project
from tests.flow.helpers import query, run_cli

pytestmark = pytest.mark.slow

HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(600)"


@pytest.fixture
def held_database(project: Project) -> Iterator[Path]:
    """The project's database, open for writing by another process for the length of the test."""
    AuditStore(project.database).query("SELECT 1")  # create it with the schema
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project.database)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        yield project.database
    finally:
        holder.kill()
        holder.wait()


def test_audit_on_a_locked_database_exits_3_soon_after_the_lock_timeout(
    project: Project, held_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELAUDIT_LOCK_TIMEOUT", "2")
    started = time.monotonic()
    result = run_cli(project, "audit", str(project.data / "penguins" / "penguins_batch.csv"), "--dataset", "penguins")
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: database") and "locked by another process" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    # Not retried by the tasks on top of the store's own wait (was 82 s with a 5 s timeout): a few waits at most.
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_runs_on_a_locked_database_says_so(project: Project, held_database: Path, monkeypatch) -> None:
    monkeypatch.setenv("LABELAUDIT_LOCK_TIMEOUT", "1")
    result = run_cli(project, "runs")
    assert result.exit_code == 3 and "locked by another process" in result.stderr


def _read_only_mount(source: Path, target: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``target`` a read-only view of ``source``, in a mount namespace of its own."""
    script = 'mount --bind -o ro "$0" "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(source), str(target), *command],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture
def read_only_database(project: Project, tmp_path: Path) -> Path:
    """A database holding one finished run, seen through a read-only mount (skips where mounts are not allowed)."""
    store = AuditStore(project.database)
    run_id = store.begin_run(dataset="penguins", source="batch.csv", params={}, run_id="ro-run")
    store.finish_run(run_id, status="failed", message="for the read-only test")
    view = tmp_path / "ro"
    view.mkdir()
    probe = _read_only_mount(project.root, view, ["true"])
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()[:200]}")
    return view / project.database.name


def test_read_commands_read_a_database_they_may_not_write(project: Project, read_only_database: Path) -> None:
    command = [sys.executable, "-m", "labelaudit.flows.cli", "runs", "--db", str(read_only_database), "--json"]
    done = _read_only_mount(project.root, read_only_database.parent, command)
    assert done.returncode == 0, done.stderr
    assert '"ro-run"' in done.stdout


def test_audit_refuses_a_database_it_may_not_write(project: Project, read_only_database: Path) -> None:
    batch = project.data / "penguins" / "penguins_batch.csv"
    command = [sys.executable, "-m", "labelaudit.flows.cli", "audit", str(batch), "--dataset", "penguins",
               "--db", str(read_only_database), "--expectations", str(project.expectations),
               "--reports", str(project.root / "reports-elsewhere")]  # fmt: skip
    done = _read_only_mount(project.root, read_only_database.parent, command)
    assert done.returncode == 2, done.stderr
    assert "cannot be opened for writing" in done.stderr and "Traceback" not in done.stderr
    assert query(project.database, "SELECT count(*) AS n FROM runs")["n"][0] == 1  # nothing changed
