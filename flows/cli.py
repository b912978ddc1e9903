"""The ``labelaudit`` command line.

Heavy imports (Prefect, Great Expectations, scikit-learn) happen inside commands, so ``labelaudit --help``
stays fast. Every :class:`labelaudit.errors.LabelAuditError` becomes a one-line message on stderr and its exit
code: 0 accepted, 1 rejected by the quality gate, 2 bad input or definition, 3 database locked.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

# No network here or at many users' sites: Prefect's telemetry would only log connection errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
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


def _fail(exc: BaseException) -> None:
    from labelaudit.errors import LabelAuditError

    code = exc.exit_code if isinstance(exc, LabelAuditError) else 2
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
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
) -> None:
    """Audit one batch: validate, fit out-of-fold, score with confident learning, publish the report, gate.

    Exit status: 0 accepted, 1 rejected by the quality gate, 2 bad input, 3 database locked.

    Example: labelaudit audit data/penguins/penguins_batch.csv --dataset penguins
    """
    from flows.warmup import start_prefect_api_in_background

    api_ready = start_prefect_api_in_background()
    from labelaudit.store.database import new_run_id

    settings = _settings(database=db, reports_dir=reports, expectations_dir=expectations)
    run_id = run_id or new_run_id()
    import great_expectations  # noqa: F401  (used by the validation stage: imported while the API boots)

    from flows.audit import audit as audit_flow

    api_ready()

    state = audit_flow(
        dataset=dataset,
        source=source,
        folds=folds,
        model=model,
        probabilities=probabilities,
        run_id=run_id,
        database=str(settings.database),
        reports=settings.reports_dir,
        expectations=str(settings.expectations_dir),
        data_docs=data_docs,
        annotations=annotations,
        return_state=True,
    )
    _report_outcome(state, settings, run_id, as_json)


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
) -> None:
    """Score probabilities from your own model out of core (any number of rows), publish the report, gate.

    Streams the file in batches (memory stays within the budget), checks it with DuckDB, stores every row's
    score, and states "out-of-core" in the report. Exit status: 0 accepted, 1 rejected by the quality gate,
    2 bad input, 3 database locked.

    Example: labelaudit score model_probs.parquet --dataset products --id-column sku
    """
    from flows.warmup import start_prefect_api_in_background

    api_ready = start_prefect_api_in_background()
    from labelaudit.store.database import new_run_id

    settings = _settings(database=db, reports_dir=reports, expectations_dir=expectations)
    run_id = run_id or new_run_id()
    from flows.score_probabilities import score_probabilities

    api_ready()

    state = score_probabilities(
        dataset=dataset,
        source=probabilities,
        id_column=id_column,
        label_column=label_column,
        run_id=run_id,
        database=str(settings.database),
        reports=settings.reports_dir,
        expectations=str(settings.expectations_dir),
        memory_budget=memory_budget,
        return_state=True,
    )
    _report_outcome(state, settings, run_id, as_json)


def _report_outcome(state: Any, settings: Any, run_id: str, as_json: bool) -> None:
    from labelaudit.errors import LabelAuditError, RunNotFoundError
    from labelaudit.store import AuditStore
    from labelaudit.summary import run_summary

    error = state.result(raise_on_failure=False) if state.is_failed() else None
    if not isinstance(error, BaseException):
        error = None
    try:
        summary = run_summary(AuditStore(settings.database, lock_timeout=settings.lock_timeout), run_id)
    except RunNotFoundError:
        summary = None  # the run never started (e.g. an unknown dataset)
    if as_json and summary is not None:
        typer.echo(json.dumps(_plain(summary), indent=2))
    elif summary is not None:
        _print_summary(summary)
    if error is not None:
        if isinstance(error, LabelAuditError):
            _fail(error)
        typer.secho(f"error: {type(error).__name__}: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if summary is not None and summary["status"] == "failed":
        # Failed on an error Prefect did not hand back as an exception: the stored run still says what it was.
        typer.secho(f"error: {summary['message'] or state.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if summary is None or summary["verdict"] != "accepted":
        if summary is None and state.is_failed():
            typer.secho(f"error: {state.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
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
) -> None:
    """Write a starting definition (dataset.json, suite.json, quality.json) inferred from a file, to edit.

    Example: labelaudit init batch.csv --dataset products --label category --id sku
    """
    from labelaudit.errors import LabelAuditError
    from labelaudit.infer_definition import write_definition

    settings = _settings(expectations_dir=expectations)
    try:
        folder = write_definition(
            source, dataset, settings.expectations_dir, label_column=label, id_column=id_column, overwrite=force
        )
    except LabelAuditError as exc:
        _fail(exc)
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
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8765,
    reports: ReportsOption = None,
) -> None:
    """Serve the local reports folder over HTTP, for the links in Prefect artifacts.

    Example: labelaudit reports serve --port 8765
    """
    from labelaudit.report import serve_reports

    settings = _settings(reports_dir=reports)
    server = serve_reports(Path(settings.reports_dir), host=host, port=port)
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

    Start `prefect server start` first and set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api); without it
    Prefect starts a temporary server that stops with this command. Then open http://127.0.0.1:4200, pick the
    `audit` deployment and press Run.

    Example: labelaudit serve --config labelaudit.toml --limit 2
    """
    from labelaudit.errors import LabelAuditError
    from labelaudit.project_config import load_project_config

    try:
        project = load_project_config(config)
    except LabelAuditError as exc:
        _fail(exc)
    if not os.environ.get("PREFECT_API_URL"):
        typer.secho(
            "warning: PREFECT_API_URL is not set: the deployments go to a temporary server that stops with this "
            "command. Run `prefect server start` and export PREFECT_API_URL=http://127.0.0.1:4200/api",
            fg=typer.colors.YELLOW,
            err=True,
        )
    _publish_reports_for_links(project, reports_port)
    from flows.deployments import serve_project

    serve_project(config, limit=limit, poll_seconds=poll_seconds)


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
    from labelaudit.errors import LabelAuditError
    from labelaudit.feedback import export_run

    if strategy not in ("remove", "relabel", "consensus"):
        _fail(ValueError(f"--strategy must be remove, relabel or consensus, not {strategy!r}"))
    try:
        path, record = export_run(_store(db), run_id, strategy=strategy, output=output, threshold=threshold)
    except LabelAuditError as exc:
        _fail(exc)
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
    from labelaudit.errors import LabelAuditError
    from labelaudit.feedback import write_review_sheet

    try:
        path, rows = write_review_sheet(_store(db), run_id, output)
    except LabelAuditError as exc:
        _fail(exc)
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
    from labelaudit.errors import LabelAuditError
    from labelaudit.feedback import import_verdicts

    try:
        result = import_verdicts(_store(db), path, run_id=run_id, reviewer=reviewer)
    except LabelAuditError as exc:
        _fail(exc)
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
    from labelaudit.feedback import dataset_verdicts
    from labelaudit.feedback import review_stats as compute

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


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
