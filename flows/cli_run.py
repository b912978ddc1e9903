"""How ``labelaudit audit`` and ``labelaudit score`` run a flow: checks first, the Prefect API booting meanwhile,
the flow, the summary, and every started process stopped on every way out (signals included).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from labelaudit.flows.cli_common import fail, fail_text, plain, say_slow


def run_flow(
    settings: Any,
    run_id: str | None,
    verbose: bool,
    as_json: bool,
    checks: tuple[Callable[[], Any], Callable[[Any], None]],
    prepare: Callable[[str], Callable[[], Any]],
) -> None:
    """Check the inputs, start the Prefect API, run the flow, report, and stop what was started.

    The order is what makes errors fast and nothing leak. The checks that read nothing (definition, paths) run
    first, before any process is started, so they answer in a fraction of a second however busy the machine.
    Then the API (a temporary server, unless one is configured) is spawned, to boot on the other core while this
    process reads the source's columns and imports the flow and its heavy dependencies. Every exit path, SIGTERM
    and Ctrl-C included, stops the server: ``PrefectApi`` is a context manager.
    """
    from labelaudit.flows.command_logging import command_logging
    from labelaudit.flows.prefect_api import PrefectApi, PrefectServerError

    from labelaudit.run_ids import check_run_id, new_run_id

    run_id = check_run_id(run_id) if run_id else new_run_id()
    clock = _Phases()
    quick_checks, source_checks = checks
    with clock.phase("checks"):
        bundle = quick_checks()
    log_path = _log_path(settings.log_dir, run_id)  # after the checks: a refused input leaves no empty log
    with _stop_on_signals(), clock.phase("shutdown", at_exit=True), PrefectApi(log_path, on_slow=say_slow) as api:
        with clock.phase("source_checks"):
            source_checks(bundle)
        with clock.phase("imports"):
            call = prepare(run_id)
        with clock.phase("api_wait"):
            try:
                api.ready()
            except PrefectServerError as exc:
                fail(exc, log_path)
        with clock.phase("flow"), command_logging(log_path, verbose=verbose):
            state = call()
    clock.write(log_path, api.kind)
    _report_outcome(state, settings, run_id, as_json, log_path)


def _log_path(folder: Path, run_id: str) -> Path:
    """The run's log file; in the temporary folder when the configured one cannot be written (a read-only mount)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{run_id}.log").open("a"):
            pass
    except OSError:
        folder = Path(tempfile.gettempdir()) / "labelaudit-logs"
        folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.log"


class _Phases:
    """Wall time of each phase of a command, appended to its log (``benchmarks/bench_first_report.py`` reads it)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name: str, *, at_exit: bool = False) -> Iterator[None]:
        """Time the block; ``at_exit``: time only what runs after every other phase (stopping the server)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            ended = time.perf_counter()
            if at_exit:
                started = self.started + sum(self.seconds.values())
            self.seconds[name] = ended - started

    def write(self, log_path: Path, api_kind: str) -> None:
        timings = {name: round(value, 3) for name, value in self.seconds.items()}
        with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as log:
            log.write(f"labelaudit phases: {json.dumps({'api': api_kind, **timings})}\n")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into KeyboardInterrupt, so that cleanup runs as it does for Ctrl-C.

    SIGINT too: a process started in the background by a shell script inherits SIGINT *ignored*, and an explicit
    ``kill -INT`` must still stop the audit (and its server). While a flow runs, Prefect swaps in its own SIGTERM
    handler, and an interrupt raised deep in a task can be swallowed by library code; so every signal that reaches
    any Python handler is also recorded through the interpreter's wakeup file descriptor, and the command exits
    with 128 + the signal whatever became of the exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    received: list[str] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(received[-1])

    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    os.set_blocking(reader, False)
    previous_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    previous = {sig: signal.signal(sig, interrupt) for sig in watched}
    try:
        yield
    except KeyboardInterrupt as exc:
        received.append(str(exc) or "SIGINT")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        with contextlib.suppress(BlockingIOError):
            received += [signal.Signals(n).name for n in os.read(reader, 1024) if n in {s.value for s in watched}]
        os.close(reader)
        os.close(writer)
    if received:
        typer.secho(f"interrupted ({received[0]}): a run that had not finished is stored as failed", err=True)
        raise typer.Exit(128 + signal.Signals[received[0]].value)


def _report_outcome(state: Any, settings: Any, run_id: str, as_json: bool, log_path: Path | None = None) -> None:
    from labelaudit.errors import LabelAuditError, RunNotFoundError
    from labelaudit.report.summary import run_summary
    from labelaudit.store import AuditStore

    error = state.result(raise_on_failure=False) if state.is_failed() else None
    if not isinstance(error, BaseException):
        error = None
    try:
        summary = run_summary(AuditStore(settings.database, lock_timeout=settings.lock_timeout), run_id)
    except RunNotFoundError:
        summary = None  # the run never started (e.g. an unknown dataset)
    except LabelAuditError as exc:
        fail(error or exc, log_path)
    if as_json and summary is not None:
        typer.echo(json.dumps(plain(summary), indent=2))
    elif summary is not None:
        _print_summary(summary)
    if error is not None:
        fail(error, log_path)
    if summary is not None and summary["status"] == "failed":
        # Failed on an error Prefect did not hand back as an exception: the stored run still says what it was.
        fail_text(summary["message"] or state.message, log_path)
    if summary is None or summary["verdict"] != "accepted":
        if summary is None and state.is_failed():
            fail_text(state.message, log_path)
        raise typer.Exit(1)


def _print_summary(summary: dict[str, Any]) -> None:
    out = sys.stdout
    rate = summary["estimated_error_rate"]
    print(f"run        {summary['run_id']} ({summary['status']})", file=out)
    if summary["rows"] is not None:
        print(f"rows       {summary['rows']}, flagged {summary['flagged_rows']}", file=out)
        print(f"error rate {rate:.2%} estimated; out-of-fold accuracy {summary['oof_accuracy']:.2%}", file=out)
    for check in summary["gate"]["thresholds"]:
        state = "ok" if check["passed"] else "BREACHED"
        scope = "" if check["scope"] == "overall" else f"[{check['scope']}]"
        sign = "<=" if check["comparison"] == "max" else ">="
        measured = f"{check['measured']:.4f} {sign} {check['limit_value']:.4f}"
        print(f"gate       {check['threshold']}{scope}: {measured} {state}", file=out)
    if summary["verdict"]:
        colour = typer.colors.GREEN if summary["verdict"] == "accepted" else typer.colors.RED
        typer.secho(f"verdict    {summary['verdict']}", fg=colour)
    elif summary["message"]:
        typer.secho(f"failed     {summary['message']}", fg=typer.colors.RED)
    if summary["report"]:
        print(f"report     {summary['report']}", file=out)
    print(f"database   {summary['database']}", file=out)
