"""The review loop's commands: ``labelaudit export`` (a cleaned copy of a run's data) and the ``labelaudit
review`` group (sheets out, verdicts in, what they measure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from labelaudit.flows.cli_common import DatabaseOption, app, fail, open_store, plain, review_app


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
        fail(ValueError(f"--strategy must be remove, relabel or consensus, not {strategy!r}"))
    path, record = export_run(open_store(db), run_id, strategy=strategy, output=output, threshold=threshold)
    typer.echo(
        f"wrote {path}: {record.rows_out} of {record.rows_in} rows, {record.rows_removed} removed, "
        f"{record.labels_changed} labels changed ({record.strategy})"
    )


@review_app.command("export")
def review_export(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write for reviewers")],
    data_issues: Annotated[
        bool,
        typer.Option(
            "--data-issues",
            help="Also list the run's data-issue findings (duplicates, leaked rows, outliers...), one row per "
            "finding named in issue_type: verdict error = the finding is real, correct = a false alarm",
        ),
    ] = False,
    db: DatabaseOption = None,
) -> None:
    """Write a run's flagged rows for reviewers: fill in verdict (error | correct | unsure) and corrected_label.

    Example: labelaudit review export 20261124-120301-a1b2c3 --output review.csv --data-issues
    """
    from labelaudit.review.feedback import write_review_sheet

    path, rows = write_review_sheet(open_store(db), run_id, output, data_issues=data_issues)
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

    result = import_verdicts(open_store(db), path, run_id=run_id, reviewer=reviewer)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.counts.items())
    if result.already_imported:
        typer.echo(f"{path} was already imported for run {run_id} (import {result.import_id}); nothing changed")
    else:
        typer.echo(f"stored {result.stored} verdicts ({counts}) for run {run_id} (import {result.import_id})")
        if result.issue_counts:
            typer.echo("  on data issues: " + ", ".join(f"{t} {n}" for t, n in result.issue_counts.items()))


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
    from labelaudit.review.feedback import dataset_issue_verdicts, dataset_verdicts
    from labelaudit.review.feedback import review_stats as compute

    store = open_store(db)
    issues = dataset_issue_verdicts(store, dataset)
    stats = compute(
        dataset_verdicts(store, dataset), dataset, target=target, min_verdicts=min_verdicts, issue_verdicts=issues
    )
    if as_json:
        typer.echo(json.dumps(plain(stats.to_dict()), indent=2))
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
    for kind in stats.issue_types.itertuples():  # data-issue findings reviewers confirmed or called false alarms
        precision = "–" if kind.precision != kind.precision else f"{kind.precision:.0%}"
        typer.echo(f"{kind.issue_type}: {kind.n_reviewed} reviewed, precision {precision}")
