"""What every ``labelaudit`` command shares: the Typer app and its groups, the common options, the one error
handler, and small helpers (settings, the database, JSON-safe values, aligned tables).

Heavy imports (Prefect, Great Expectations, scikit-learn) happen inside commands, so ``labelaudit --help``
stays fast. Every :class:`labelaudit.errors.LabelAuditError` becomes a one-line message on stderr and its exit
code: 0 accepted, 1 rejected by the quality gate, 2 bad input or definition, 3 database locked.
"""

from __future__ import annotations

import math
import os
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
            fail(exc)


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


def settings_for(**overrides: Any) -> Any:
    from labelaudit.settings import Settings

    return Settings().with_overrides(**overrides)


def fail(exc: BaseException, log_path: Path | None = None) -> NoReturn:
    """One line on stderr and the documented exit code; the traceback, if any, is in the log file it names."""
    from labelaudit.flows.prefect_api import PrefectServerError

    from labelaudit.errors import LabelAuditError

    code = exc.exit_code if isinstance(exc, LabelAuditError) else 2
    written_for_people = isinstance(exc, LabelAuditError | PrefectServerError | FileNotFoundError)
    fail_text(str(exc) if written_for_people else f"{type(exc).__name__}: {exc}", log_path, code)


def fail_text(text: str, log_path: Path | None = None, code: int = 2) -> NoReturn:
    where = f" (details: {log_path})" if log_path is not None and log_path.exists() else ""
    typer.secho(f"error: {text}{where}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
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


def read_options(source: str, delimiter: str | None, encoding: str | None) -> Any:
    """The reading options given, after saying on stderr which delimiter was detected when it is not a comma."""
    from labelaudit.inputs.readers import ReadOptions, preflight

    options = ReadOptions(delimiter=delimiter, encoding=encoding)
    how = preflight(source, options=options)  # cheap; raises InputDataError naming the file
    if how.endswith("(detected)"):
        typer.echo(f"reading {source} as {how}; pass --delimiter to choose another", err=True)
    return options


def say_slow(seconds: float) -> None:
    typer.secho(
        f"waiting for the temporary Prefect API server ({seconds:.0f} s so far; the machine is busy). "
        "`labelaudit server start` keeps one running between audits.",
        fg=typer.colors.YELLOW,
        err=True,
    )


def aligned_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
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


def open_store(db: Path | None) -> Any:
    from labelaudit.store import AuditStore

    settings = settings_for(database=db)
    if not settings.database.exists():
        fail(FileNotFoundError(f"no database at {settings.database}; run an audit first"))
    return AuditStore(settings.database, lock_timeout=settings.lock_timeout)
