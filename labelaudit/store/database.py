"""Access to the DuckDB file, written so that a run can never leave half its output behind.

Why connections are short-lived: DuckDB lets one process at a time open a file for writing. Holding a
connection for a whole run would block every other run (and the CLI's read commands) for minutes; instead
each stage computes without the database, then opens it, writes its whole output in one transaction, and
closes it. Another process that finds the file locked waits, with backoff, up to ``lock_timeout`` seconds,
then fails with :class:`~labelaudit.errors.DatabaseLockedError` naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from labelaudit.errors import DatabaseAccessError, DatabaseLockedError, RunNotFoundError
from labelaudit.run_ids import check_run_id, new_run_id
from labelaudit.store.schema import MIGRATIONS, RUN_TABLES, STAGE_TABLES


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Run ids become folder and URL segments of the published reports, so they are plain names.


def code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labelaudit")
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "0+unknown"


@dataclass
class StageWrite:
    """Everything one stage stores: its tables (without the run id) and its timing.

    A table is a pandas DataFrame, an Arrow table, or an Arrow ``RecordBatchReader``: DuckDB consumes a reader
    batch by batch, so output too big for memory (the out-of-core score stage's per-row scores) is streamed
    into the stage's one transaction.
    """

    tables: Mapping[str, Any]
    started_at: datetime
    rows: int | None = None
    message: str | None = None
    finished_at: datetime = field(default_factory=utcnow)


#: A run that has not finished: still running, or given a verdict but not (yet) its report.
_UNFINISHED = "status = 'running' OR (status IN ('completed', 'rejected') AND report_path IS NULL)"


class _NotWritable(Exception):
    """The file exists but this process may not write it."""


def _is_permission_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "permission denied" in text or "read-only file system" in text


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class AuditStore:
    """The audit database. Cheap to create; every method opens and closes its own connection.

    Parameters
    ----------
    path : Path
        The DuckDB file; created with the current schema if missing, upgraded in place if older.
    lock_timeout : float, default=60.0
        Seconds to wait for another process's write lock.
    memory_limit : str, optional
        DuckDB ``memory_limit`` of every connection (e.g. ``"512MiB"``); default DuckDB's (80 % of RAM). Set it when
        the database holds runs of many millions of rows and the process must stay within a memory budget
        (DuckDB's buffer pool otherwise caches what a report's queries scan).
    """

    def __init__(self, path: Path | str, *, lock_timeout: float = 60.0, memory_limit: str | None = None) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.memory_limit = memory_limit

    # -- connections -------------------------------------------------------------------------------------

    @contextmanager
    def connect(self, *, reading: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file (waiting for another process's lock), migrate it if needed, and close it after.

        ``reading``: the caller only reads, so a file this process may not write (a copy, a read-only mount, a
        backup) is opened read-only instead of failing. Writers get a clear error for such a file. Read-only is
        not the default for reads because DuckDB refuses a read-only and a read-write connection to one file in
        the same process, which a flow running tasks in threads would hit.
        """
        try:
            with self._open(read_only=False) as con:
                self._migrate(con)
                yield con
        except _NotWritable as exc:
            if not reading:
                raise DatabaseAccessError(f"database {self.path} cannot be opened for writing: {exc}") from exc
            with self._open(read_only=True) as con:
                yield con

    @contextmanager
    def _open(self, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if not read_only and _is_permission_error(exc):
                    raise _NotWritable(str(exc)) from exc
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseLockedError(
                        f"database {self.path} is locked by another process for more than "
                        f"{self.lock_timeout:g} s ({exc}); wait for that run to finish or raise "
                        "LABELAUDIT_LOCK_TIMEOUT"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            if self.memory_limit:
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield con
        finally:
            con.close()

    @staticmethod
    def _migrate(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
        )
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        for version, sql in enumerate(MIGRATIONS[current:], start=current + 1):
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow()])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One connection inside one transaction: all of it is stored, or none of it."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- runs --------------------------------------------------------------------------------------------

    def begin_run(
        self,
        *,
        dataset: str,
        source: str | None,
        params: Mapping[str, Any],
        run_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> str:
        """Register a run as ``running`` and return its id.

        Given the id of an existing run, that run is re-run: its earlier output is removed in the same
        transaction, so the database never holds a mix of two attempts. Other runs are never touched.
        """
        run_id = check_run_id(run_id) if run_id else new_run_id()
        with self.transaction() as con:
            for table in RUN_TABLES[:-1]:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
            con.execute(
                """INSERT INTO runs (run_id, dataset, source, status, started_at, params, code_version,
                                     flow_run_id, host, pid)
                   VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    dataset,
                    source,
                    utcnow(),
                    json.dumps(params, default=str),
                    code_version(),
                    flow_run_id,
                    socket.gethostname(),
                    os.getpid(),
                ],
            )
        return run_id

    def write_stage(self, run_id: str, stage: str, output: StageWrite) -> None:
        """Replace ``stage``'s output for ``run_id`` with ``output``, atomically, and record its timing."""
        owned = STAGE_TABLES[stage]
        unknown = set(output.tables) - set(owned)
        if unknown:
            raise ValueError(f"stage {stage!r} does not own tables {sorted(unknown)}")
        with self.transaction() as con:
            self._require_run(con, run_id)
            for table in owned:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            for table, frame in output.tables.items():
                _insert(con, table, run_id, frame)
            self._record_stage(con, run_id, stage, "completed", output)

    def fail_stage(self, run_id: str, stage: str, *, started_at: datetime, message: str) -> None:
        """Record that ``stage`` failed (its output, if any, was never written) and mark the run failed."""
        with self.transaction() as con:
            self._require_run(con, run_id)
            self._record_stage(con, run_id, stage, "failed", StageWrite({}, started_at, message=message))
            con.execute(
                "UPDATE runs SET status = 'failed', message = ?, finished_at = ? WHERE run_id = ?",
                [f"{stage}: {message}", utcnow(), run_id],
            )

    def finish_run(self, run_id: str, *, status: str, verdict: str | None = None, message: str | None = None) -> None:
        with self.transaction() as con:
            self._require_run(con, run_id)
            con.execute(
                "UPDATE runs SET status = ?, verdict = coalesce(?, verdict), message = ?, finished_at = ? "
                "WHERE run_id = ?",
                [status, verdict, message, utcnow(), run_id],
            )

    def set_report_path(self, run_id: str, report_path: str, *, started_at: datetime) -> None:
        with self.transaction() as con:
            self._require_run(con, run_id)
            con.execute("UPDATE runs SET report_path = ? WHERE run_id = ?", [report_path, run_id])
            self._record_stage(con, run_id, "report", "completed", StageWrite({}, started_at, message=report_path))

    def recover_stale_runs(self) -> list[str]:
        """Mark as failed the runs left ``running`` by a process of this host that no longer exists.

        A killed process cannot mark its own run; the stage it was in never committed, so only the status
        needs fixing. Runs from other hosts are left alone: we cannot tell whether they are alive.
        """
        host = socket.gethostname()
        with self.transaction() as con:
            rows = con.execute(f"SELECT run_id, pid FROM runs WHERE ({_UNFINISHED}) AND host = ?", [host]).fetchall()
            dead = [run_id for run_id, pid in rows if pid is not None and not _pid_alive(pid)]
            for run_id in dead:
                self._mark_failed(con, run_id, "the process running it stopped before it finished (killed or crashed)")
        return dead

    def fail_run(self, run_id: str, message: str) -> bool:
        """Mark ``run_id`` failed if it is still unfinished (running, or without its report); return whether it was.

        What a flow calls when it is interrupted or meets an error no stage recorded, so that a run never stays
        ``running``, and a run never reads ``completed`` without the report that ``completed`` promises.
        """
        with self.transaction() as con:
            unfinished = con.execute(f"SELECT 1 FROM runs WHERE run_id = ? AND ({_UNFINISHED})", [run_id]).fetchall()
            if unfinished:
                self._mark_failed(con, run_id, message)
        return bool(unfinished)

    @staticmethod
    def _mark_failed(con: duckdb.DuckDBPyConnection, run_id: str, message: str) -> None:
        con.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?, message = ? WHERE run_id = ?",
            [utcnow(), message, run_id],
        )

    # -- reading -----------------------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame (read-only: works on a file this process may not write)."""
        with self.connect(reading=True) as con:
            return con.execute(sql, params or []).df()

    def run(self, run_id: str) -> dict[str, Any]:
        """The ``runs`` row of ``run_id`` as a dict (``params`` decoded)."""
        frame = self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if frame.empty:
            raise RunNotFoundError(f"no run {run_id!r} in {self.path}")
        row = frame.iloc[0].to_dict()
        row["params"] = json.loads(row["params"]) if row.get("params") else {}
        return row

    @staticmethod
    def _require_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        if con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()[0] == 0:
            raise RunNotFoundError(f"no run {run_id!r}: call begin_run first")

    @staticmethod
    def _record_stage(con: duckdb.DuckDBPyConnection, run_id: str, stage: str, status: str, output: StageWrite) -> None:
        seconds = (output.finished_at - output.started_at).total_seconds()
        con.execute("DELETE FROM run_stages WHERE run_id = ? AND stage = ?", [run_id, stage])
        con.execute(
            "INSERT INTO run_stages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, stage, status, output.started_at, output.finished_at, seconds, output.rows, output.message],
        )


def _insert(con: duckdb.DuckDBPyConnection, table: str, run_id: str, frame: Any) -> None:
    """Append ``frame`` (pandas or Arrow) to ``table``, matching columns by name, with the run id added."""
    view = f"_stage_{table}"
    con.register(view, frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT ? AS run_id, * FROM {view}", [run_id])
    # Unregistered only on success: after a failed insert the transaction is aborted and would refuse it,
    # masking the real error; the connection is closed right after anyway.
    con.unregister(view)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
