"""The ``labelaudit`` command line.

Heavy imports (Prefect, Great Expectations, scikit-learn) happen inside commands, so ``labelaudit --help``
stays fast. Every :class:`labelaudit.errors.LabelAuditError` becomes a one-line message on stderr and its exit
code: 0 accepted, 1 rejected by the quality gate, 2 bad input or definition, 3 database locked.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

# No network here or at many users' sites: Prefect's telemetry would only log connection errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class _OneLineErrors(TyperGroup):
    """Every command's :class:`~labelaudit.errors.LabelAuditError` becomes one ``error:`` line and its exit code.

    One handler for the whole CLI, so no command can forget it and print a traceback instead.
    """

    def invoke(self, ctx: click.Context) -> Any:
        from labelaudit.errors import LabelAuditError

        try:
            return super().invoke(ctx)
        except LabelAuditError as exc:
            _fail(exc)


app = typer.Typer(
    cls=_OneLineErrors,
    name="labelaudit",
    help="Audit human-labelled data: find the labels that are probably wrong, and gate batches on quality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
reports_app = typer.Typer(help="Work with the published HTML reports.", no_args_is_help=True)
app.add_typer(reports_app, name="reports")
review_app = typer.Typer(
    help="The review loop: flagged rows out to reviewers, their verdicts back in, and what they measure.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

DatabaseOption = Annotated[
    Path | None, typer.Option("--db", help="DuckDB file [env LABELAUDIT_DB; default ./labelaudit.duckdb]")
]
ReportsOption = Annotated[
    str | None,
    typer.Option("--reports", help="Report folder or fsspec URL [env LABELAUDIT_REPORTS; default ./reports]"),
]
ExpectationsOption = Annotated[
    Path | None,
    typer.Option(
        "--expectations", help="Dataset definitions folder [env LABELAUDIT_EXPECTATIONS; default ./expectations]"
    ),
]


def _settings(**overrides: Any) -> Any:
    from labelaudit.settings import Settings

    return Settings().with_overrides(**overrides)


def _fail(exc: BaseException, log_path: Path | None = None) -> NoReturn:
    """One line on stderr and the documented exit code; the traceback, if any, is in the log file it names."""
    from labelaudit.flows.prefect_api import PrefectServerError

    from labelaudit.errors import LabelAuditError

    code = exc.exit_code if isinstance(exc, LabelAuditError) else 2
    written_for_people = isinstance(exc, LabelAuditError | PrefectServerError | FileNotFoundError)
    _fail_text(str(exc) if written_for_people else f"{type(exc).__name__}: {exc}", log_path, code)


def _fail_text(text: str, log_path: Path | None = None, code: int = 2) -> NoReturn:
    where = f" (details: {log_path})" if log_path is not None and log_path.exists() else ""
    typer.secho(f"error: {text}{where}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the terminal (it always goes to the log file)")
]


DelimiterOption = Annotated[
    str | None,
    typer.Option(help="Delimiter of a .csv file, e.g. ';' or tab (default: detected; .tsv: tab)"),
]
EncodingOption = Annotated[
    str | None, typer.Option(help="Text encoding of a .csv/.tsv file, e.g. cp1252 or latin-1 (default: UTF-8)")
]


def _read_options(source: str, delimiter: str | None, encoding: str | None) -> Any:
    """The reading options given, after saying on stderr which delimiter was detected when it is not a comma."""
    from labelaudit.inputs.readers import ReadOptions, preflight

    options = ReadOptions(delimiter=delimiter, encoding=encoding)
    how = preflight(source, options=options)  # cheap; raises InputDataError naming the file
    if how.endswith("(detected)"):
        typer.echo(f"reading {source} as {how}; pass --delimiter to choose another", err=True)
    return options


@app.command()
def audit(
    source: Annotated[str, typer.Argument(help="Batch file (.csv, .tsv, .parquet) or duckdb:///db.duckdb?query=...")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset definition name (folder in expectations/)")],
    folds: Annotated[int | None, typer.Option(help="Cross-validation folds (default: the definition's)")] = None,
    model: Annotated[
        str | None, typer.Option(help="logistic_regression | hist_gradient_boosting | random_forest")
    ] = None,
    probabilities: Annotated[
        str | None, typer.Option(help="Precomputed probabilities (id + one column per class); skips fitting")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Re-run this run id, replacing its output")] = None,
    data_docs: Annotated[bool, typer.Option(help="Build GX Data Docs next to the report")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout")] = False,
    db: DatabaseOption = None,
    reports: ReportsOption = None,
    expectations: ExpectationsOption = None,
    annotations: Annotated[
        str | None,
        typer.Option(help="Long-format annotations (item id, annotator id, label): majority vote, CROWDLAB, labelers"),
    ] = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Audit one batch: validate, fit out-of-fold, score with confident learning, publish the report, gate.

    Exit status: 0 accepted, 1 rejected by the quality gate, 2 bad input, 3 database locked.

    Example: labelaudit audit data/penguins/penguins_batch.csv --dataset penguins
    """
    settings = _settings(database=db, reports_dir=reports, expectations_dir=expectations)

    def quick_checks() -> Any:
        from labelaudit.inputs.preflight import check_audit_inputs

        return check_audit_inputs(
            settings, dataset, source, folds=folds, model=model, probabilities=probabilities, annotations=annotations
        )

    def checks(bundle: Any) -> None:
        from labelaudit.inputs.preflight import check_source_columns

        check_source_columns(source, bundle, _read_options(source, delimiter, encoding))

    def run(run_id: str) -> Any:
        import great_expectations  # noqa: F401  (the validation stage's: imported while the API boots)
        from labelaudit.flows.audit import audit as audit_flow

        return lambda: audit_flow(
            dataset=dataset,
            source=source,
            folds=folds,
            model=model,
            probabilities=probabilities,
            run_id=run_id,
            **settings.locations(),
            data_docs=data_docs,
            annotations=annotations,
            delimiter=delimiter,
            encoding=encoding,
            return_state=True,
        )

    _run_flow(settings, run_id, verbose, as_json, (quick_checks, checks), run)


@app.command()
def score(
    probabilities: Annotated[
        str, typer.Argument(help="Parquet file: id, given label and one probability column per class")
    ],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset definition name (its classes)")],
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Id column (default: the definition's id_column)")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option("--label-column", help="Given-label column (default: the definition's)")
    ] = None,
    memory_budget: Annotated[
        str | None, typer.Option("--memory-budget", help="e.g. 2GiB [env LABELAUDIT_MEMORY_BUDGET; default 2GiB]")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Re-run this run id, replacing its output")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout")] = False,
    db: DatabaseOption = None,
    reports: ReportsOption = None,
    expectations: ExpectationsOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Score probabilities from your own model out of core (any number of rows), publish the report, gate.

    Streams the file in batches (memory stays within the budget), checks it with DuckDB, stores every row's
    score, and states "out-of-core" in the report. Exit status: 0 accepted, 1 rejected by the quality gate,
    2 bad input, 3 database locked.

    Example: labelaudit score model_probs.parquet --dataset products --id-column sku
    """
    settings = _settings(database=db, reports_dir=reports, expectations_dir=expectations)

    def quick_checks() -> Any:
        from labelaudit.inputs.preflight import check_score_inputs

        return check_score_inputs(settings, dataset, probabilities)

    def run(run_id: str) -> Any:
        from labelaudit.flows.score_probabilities import score_probabilities

        return lambda: score_probabilities(
            dataset=dataset,
            source=probabilities,
            id_column=id_column,
            label_column=label_column,
            run_id=run_id,
            **settings.locations(),
            memory_budget=memory_budget,
            return_state=True,
        )

    _run_flow(settings, run_id, verbose, as_json, (quick_checks, lambda bundle: None), run)


def _run_flow(
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
    with _stop_on_signals(), clock.phase("shutdown", at_exit=True), PrefectApi(log_path, on_slow=_say_slow) as api:
        with clock.phase("source_checks"):
            source_checks(bundle)
        with clock.phase("imports"):
            call = prepare(run_id)
        with clock.phase("api_wait"):
            try:
                api.ready()
            except PrefectServerError as exc:
                _fail(exc, log_path)
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


def _say_slow(seconds: float) -> None:
    typer.secho(
        f"waiting for the temporary Prefect API server ({seconds:.0f} s so far; the machine is busy). "
        "`labelaudit server start` keeps one running between audits.",
        fg=typer.colors.YELLOW,
        err=True,
    )


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
        _fail(error or exc, log_path)
    if as_json and summary is not None:
        typer.echo(json.dumps(_plain(summary), indent=2))
    elif summary is not None:
        _print_summary(summary)
    if error is not None:
        _fail(error, log_path)
    if summary is not None and summary["status"] == "failed":
        # Failed on an error Prefect did not hand back as an exception: the stored run still says what it was.
        _fail_text(summary["message"] or state.message, log_path)
    if summary is None or summary["verdict"] != "accepted":
        if summary is None and state.is_failed():
            _fail_text(state.message, log_path)
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


@app.command()
def init(
    source: Annotated[str, typer.Argument(help="A sample batch to infer the definition from")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Name of the new dataset definition")],
    label: Annotated[str | None, typer.Option(help="Label column (default: a column named label/class/target)")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Id column (default: a column named id)")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing definition")] = False,
    expectations: ExpectationsOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Write a starting definition (dataset.json, suite.json, quality.json) inferred from a file, to edit.

    Example: labelaudit init batch.csv --dataset products --label category --id sku
    """
    from labelaudit.inputs.infer_definition import write_definition

    settings = _settings(expectations_dir=expectations)
    options = _read_options(source, delimiter, encoding)
    folder = write_definition(
        source, dataset, settings.expectations_dir, label_column=label, id_column=id_column, overwrite=force,
        options=options,
    )  # fmt: skip
    typer.echo(f"wrote {folder}/dataset.json, suite.json and quality.json: review them, then run")
    typer.echo(f"  labelaudit audit {source} --dataset {dataset}")


@app.command()
def runs(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset")] = None,
    limit: Annotated[int, typer.Option(help="Most recent runs to show")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DatabaseOption = None,
) -> None:
    """List recent runs with their verdict and estimated error rate.

    Example: labelaudit runs --dataset penguins --limit 5
    """
    import textwrap
    from datetime import UTC

    from labelaudit.store.queries import recent_runs

    records = recent_runs(_store(db), dataset=dataset, limit=limit)
    if as_json:
        typer.echo(json.dumps(_plain(records), indent=2))
        return
    if not records:
        typer.echo(f"no runs of dataset {dataset}" if dataset else "no runs")
        return
    header = ["run", "dataset", "started (UTC)", "outcome", "error rate", "flagged", "source", "reason"]
    rows = [
        [
            r["run_id"],
            r["dataset"],
            f"{r['started_at'].astimezone(UTC):%Y-%m-%d %H:%M}",
            r["outcome"],
            "-" if r["estimated_error_rate"] is None else f"{r['estimated_error_rate']:.2%}",
            "-" if r["flagged"] is None else f"{r['flagged']:,}",
            r["source"] or "-",
            textwrap.shorten(r["message"] or "", _REASON_CHARS, placeholder=" …") if r["outcome"] != "accepted" else "",
        ]
        for r in records
    ]
    typer.echo(_table(header, rows, right={4, 5}))


@app.command()
def flagged(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    limit: Annotated[int, typer.Option(help="Rows to show")] = 20,
    db: DatabaseOption = None,
) -> None:
    """Show a run's most suspicious rows (from the flagged_rows view).

    Example: labelaudit flagged 20261124-120301-a1b2c3 --limit 10
    """
    from labelaudit.errors import RunNotFoundError
    from labelaudit.store.queries import flagged_rows

    store = _store(db)
    records = flagged_rows(store, run_id, limit=limit)
    if not records:
        try:
            store.run(run_id)
        except RunNotFoundError as exc:
            _fail(exc)
        typer.echo(f"no flagged rows for run {run_id}")
        return
    header = ["rank", "id", "given", "suggested", "score", "suggested prob"]
    rows = [
        [
            "-" if r["issue_rank"] is None else str(r["issue_rank"]),
            r["row_id"],
            r["given_label"],
            r["suggested_label"],
            f"{r['score']:.4f}",
            f"{r['suggested_prob']:.4f}",
        ]
        for r in records
    ]
    typer.echo(_table(header, rows, right={0, 4, 5}))


#: Characters of a failure reason in `labelaudit runs` (cut at a word; `--json` and the report have it all).
_REASON_CHARS = 60


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """Columns aligned on their widest cell, two spaces apart, no trailing spaces (greps and diffs cleanly).

    Written out rather than with rich (a typer dependency): off a terminal rich assumes 80 columns and drops
    whole columns of a wider table, which is what `labelaudit runs | grep` would get.
    """
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


@reports_app.command("serve")
def reports_serve(
    host: Annotated[str, typer.Option(help="Loopback address to listen on (others are refused)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8765,
    reports: ReportsOption = None,
) -> None:
    """Serve the local reports folder over HTTP, for the links in Prefect artifacts.

    Only loopback addresses are served (the reports hold the audited data): `--host 0.0.0.0` exits 2 with a
    one-line error. To share reports, publish them to a web server (`base_url` in labelaudit.toml).

    Example: labelaudit reports serve --port 8765
    """
    from labelaudit.errors import LabelAuditError
    from labelaudit.report import serve_reports

    settings = _settings(reports_dir=reports)
    try:
        server = serve_reports(Path(settings.reports_dir), host=host, port=port)
    except (LabelAuditError, ValueError, OSError) as exc:  # a non-loopback host, no folder, a taken port
        _fail(exc)
    typer.echo(f"serving {settings.reports_dir} at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="Project config listing the datasets")] = Path(
        "labelaudit.toml"
    ),
    limit: Annotated[int | None, typer.Option(help="Most flow runs executed at once (default: no limit)")] = None,
    poll_seconds: Annotated[float, typer.Option(help="How often to ask the server for runs to start")] = 2.0,
    reports_port: Annotated[
        int, typer.Option(help="Serve the local reports folder on 127.0.0.1 at this port for the UI's links; 0: don't")
    ] = 8765,
) -> None:
    """Register the config's deployments with the Prefect server and run what is triggered, until Ctrl-C.

    Start `labelaudit server start` first (or your own Prefect server, with PREFECT_API_URL); without either, a
    temporary server is started that stops with this command. Then open http://127.0.0.1:4200, pick a
    `<dataset>-audit` deployment and press Run.

    Example: labelaudit serve --config labelaudit.toml --limit 2
    """
    from labelaudit.project_config import load_project_config

    project = load_project_config(config)
    from labelaudit.flows.prefect_api import PrefectApi, PrefectServerError

    with PrefectApi(on_slow=_say_slow) as api:
        if api.kind == "temporary":
            typer.secho(
                "warning: no Prefect server is configured: the deployments go to a temporary server that stops "
                "with this command. Run `labelaudit server start` (or set PREFECT_API_URL) to keep them.",
                fg=typer.colors.YELLOW,
                err=True,
            )
        _publish_reports_for_links(project, reports_port)
        from labelaudit.flows.deployments import serve_project

        try:
            api.ready()
        except PrefectServerError as exc:
            _fail(exc)
        serve_project(config, limit=limit, poll_seconds=poll_seconds)


server_app = typer.Typer(
    help="A long-lived local Prefect server (API and UI) that audits use instead of a temporary one.",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 4200) -> None:
    """Start Prefect's server in the background; later commands without PREFECT_API_URL use it.

    Its UI lists every audit run from the command line; it runs until `labelaudit server stop`.

    Example: labelaudit server start --port 4200
    """
    from labelaudit.flows.local_server import start_local_server
    from labelaudit.flows.prefect_api import PrefectServerError

    try:
        api_url = start_local_server(port)
    except PrefectServerError as exc:
        _fail(exc)
    typer.echo(f"Prefect server running: UI {api_url.removesuffix('/api')}, API {api_url}")
    typer.echo("audits without PREFECT_API_URL now use it; stop it with: labelaudit server stop")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server started by `labelaudit server start`.

    Example: labelaudit server stop
    """
    from labelaudit.flows.local_server import stop_local_server

    typer.echo("stopped the Prefect server" if stop_local_server() else "no labelaudit Prefect server was running")


@server_app.command("status")
def server_status() -> None:
    """Say which Prefect API the next audit would use. Exit status 0 if a server answers, 1 if not.

    Example: labelaudit server status
    """
    from labelaudit.flows.prefect_api import is_healthy, running_local_server

    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        state = "answers" if is_healthy(configured) else "does not answer"
        typer.echo(f"PREFECT_API_URL={configured} ({state})")
        raise typer.Exit(0 if state == "answers" else 1)
    local = running_local_server()
    if local:
        typer.echo(f"labelaudit server running at {local}")
        return
    typer.echo("no server: each audit starts a temporary Prefect API server and stops it when it ends")
    raise typer.Exit(1)


def _publish_reports_for_links(project: Any, port: int) -> None:
    """Give the report links in artifacts an http:// address: the config's base URL, or a local report server."""
    if project.project.report_base_url:
        os.environ["LABELAUDIT_REPORT_BASE_URL"] = project.project.report_base_url
        return
    reports = project.locations()["reports"] or _settings().reports_dir
    if os.environ.get("LABELAUDIT_REPORT_BASE_URL") or port == 0 or "://" in str(reports):
        return
    from labelaudit.report import report_server_url, serve_reports

    Path(reports).mkdir(parents=True, exist_ok=True)
    try:
        server = serve_reports(Path(reports), host="127.0.0.1", port=port)
    except OSError as exc:  # e.g. the port is taken by `labelaudit reports serve`
        typer.secho(f"warning: not serving reports on port {port} ({exc}); links will be file:// URLs "
                    "unless LABELAUDIT_REPORT_BASE_URL is set", fg=typer.colors.YELLOW, err=True)  # fmt: skip
        return
    threading.Thread(target=server.serve_forever, name="labelaudit-reports", daemon=True).start()
    os.environ["LABELAUDIT_REPORT_BASE_URL"] = report_server_url(server)
    typer.echo(f"serving reports {reports} at {os.environ['LABELAUDIT_REPORT_BASE_URL']}")


def _store(db: Path | None) -> Any:
    from labelaudit.store import AuditStore

    settings = _settings(database=db)
    if not settings.database.exists():
        _fail(FileNotFoundError(f"no database at {settings.database}; run an audit first"))
    return AuditStore(settings.database, lock_timeout=settings.lock_timeout)


@app.command("export")
def export_cleaned(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Cleaned file to write (.parquet, .csv or .tsv)")],
    strategy: Annotated[
        str,
        typer.Option(
            help="remove: drop flagged rows | relabel: apply suggested labels at or above --threshold | "
            "consensus: CROWDLAB consensus labels (runs with --annotations)"
        ),
    ] = "remove",
    threshold: Annotated[float, typer.Option(help="Minimum suggested-label probability for relabel")] = 0.9,
    db: DatabaseOption = None,
) -> None:
    """Write a cleaned copy of a run's data set and record the choice with the run (table exports).

    Example: labelaudit export 20261124-120301-a1b2c3 --strategy relabel --threshold 0.9 --output cleaned.parquet
    """
    from labelaudit.review.feedback import export_run

    if strategy not in ("remove", "relabel", "consensus"):
        _fail(ValueError(f"--strategy must be remove, relabel or consensus, not {strategy!r}"))
    path, record = export_run(_store(db), run_id, strategy=strategy, output=output, threshold=threshold)
    typer.echo(
        f"wrote {path}: {record.rows_out} of {record.rows_in} rows, {record.rows_removed} removed, "
        f"{record.labels_changed} labels changed ({record.strategy})"
    )


@review_app.command("export")
def review_export(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write for reviewers")],
    db: DatabaseOption = None,
) -> None:
    """Write a run's flagged rows for reviewers: fill in verdict (error | correct | unsure) and corrected_label.

    Example: labelaudit review export 20261124-120301-a1b2c3 --output review.csv
    """
    from labelaudit.review.feedback import write_review_sheet

    path, rows = write_review_sheet(_store(db), run_id, output)
    typer.echo(f"wrote {rows} flagged rows to {path}; fill in verdict and corrected_label, then run")
    typer.echo(f"  labelaudit review import {path} --run {run_id}")


@review_app.command("import")
def review_import(
    path: Annotated[Path, typer.Argument(help="The reviewed CSV")],
    run_id: Annotated[str, typer.Option("--run", help="The run whose flags were reviewed")],
    reviewer: Annotated[str | None, typer.Option(help="Who reviewed (stored with each verdict)")] = None,
    db: DatabaseOption = None,
) -> None:
    """Validate reviewers' verdicts and store them all in one transaction (nothing on any error).

    Example: labelaudit review import review.csv --run 20261124-120301-a1b2c3 --reviewer alice
    """
    from labelaudit.review.feedback import import_verdicts

    result = import_verdicts(_store(db), path, run_id=run_id, reviewer=reviewer)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.counts.items())
    if result.already_imported:
        typer.echo(f"{path} was already imported for run {run_id} (import {result.import_id}); nothing changed")
    else:
        typer.echo(f"stored {result.stored} verdicts ({counts}) for run {run_id} (import {result.import_id})")


@review_app.command("stats")
def review_stats(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name")],
    target: Annotated[float, typer.Option(help="Target flag precision for the cut-off")] = 0.9,
    min_verdicts: Annotated[int, typer.Option(help="Decided verdicts needed before a cut-off is given")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DatabaseOption = None,
) -> None:
    """Measured flag precision by score band and per run, and the score cut-off reaching the target precision.

    Example: labelaudit review stats --dataset penguins --target 0.9
    """
    from labelaudit.review.feedback import dataset_verdicts
    from labelaudit.review.feedback import review_stats as compute

    stats = compute(dataset_verdicts(_store(db), dataset), dataset, target=target, min_verdicts=min_verdicts)
    if as_json:
        typer.echo(json.dumps(_plain(stats.to_dict()), indent=2))
        return
    typer.echo(f"{stats.n_verdicts} verdicts for {dataset}")
    for band in stats.bands.itertuples():
        precision = "–" if band.precision != band.precision else f"{band.precision:.0%}"
        typer.echo(f"score {band.lower:.2f}-{band.upper:.2f}: {band.n_reviewed:4d} reviewed, precision {precision}")
    cut = stats.cutoff
    if cut.cutoff is None:
        typer.echo(f"cut-off    none: {cut.reason}")
    else:
        typer.echo(f"cut-off    score <= {cut.cutoff:.4f}: precision {cut.precision:.0%} on {cut.n_flagged} verdicts")


def main() -> NoReturn:
    """Console entry point: run the command, flush what must reach disk and the Prefect API, and exit at once.

    After an audit the interpreter's own teardown (finalising the thousands of modules that Great Expectations,
    pandas, scikit-learn and Prefect bring) takes 1.5-2 s after the last line is printed, on every command, and
    nothing of ours needs it: servers are stopped, DuckDB connections closed and reports written before this
    point. So the logs and events Prefect still holds are sent, the log files and the standard streams flushed,
    and the process ends without the teardown. In-process callers (the tests) call ``app`` and are unaffected.
    """
    import logging

    from labelaudit.flows.prefect_api import drain_prefect_workers

    try:
        app()
        code = 0
    except SystemExit as exc:  # typer's normal way out
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    drain_prefect_workers()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
