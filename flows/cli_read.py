"""The commands that read the audit database: ``labelaudit runs`` and ``labelaudit flagged`` (through the named
reads of :mod:`labelaudit.store.queries`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from labelaudit.flows.cli_common import DatabaseOption, aligned_table, app, fail, open_store, plain


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

    records = recent_runs(open_store(db), dataset=dataset, limit=limit)
    if as_json:
        typer.echo(json.dumps(plain(records), indent=2))
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
    typer.echo(aligned_table(header, rows, right={4, 5}))


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

    store = open_store(db)
    records = flagged_rows(store, run_id, limit=limit)
    if not records:
        try:
            store.run(run_id)
        except RunNotFoundError as exc:
            fail(exc)
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
    typer.echo(aligned_table(header, rows, right={0, 4, 5}))


#: Characters of a failure reason in `labelaudit runs` (cut at a word; `--json` and the report have it all).
_REASON_CHARS = 60
