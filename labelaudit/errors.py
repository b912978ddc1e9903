"""Named exceptions, so callers (the CLI, Prefect tasks, notebooks) can react to the kind of failure.

The CLI turns every :class:`LabelAuditError` into a one-line message and a documented exit code; Prefect tasks
use :attr:`LabelAuditError.retryable` to decide whether a retry could help (a locked database may clear, a bad
file will not).
"""

from __future__ import annotations

from collections.abc import Sequence


def _where(source: str | None, column: str | None, rows: Sequence[object] | None) -> str:
    parts = []
    if source:
        parts.append(f"file {source}")
    if column:
        parts.append(f"column {column!r}")
    if rows:
        shown = ", ".join(str(r) for r in list(rows)[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        parts.append(f"row {shown}{more}" if len(rows) == 1 else f"rows {shown}{more}")
    return ": ".join([", ".join(parts)]) if parts else ""


class LabelAuditError(Exception):
    """Base class of every error labelaudit raises on purpose."""

    exit_code = 2
    retryable = False


class InputDataError(LabelAuditError, ValueError):
    """The batch itself is unusable (missing, empty, malformed, wrong columns or values).

    The message names the file, the column and the rows where they are known, because the person reading it
    has to go and fix that file.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
    ) -> None:
        self.detail = message
        self.source = source
        self.column = column
        self.rows = list(rows) if rows is not None else None
        where = _where(source, column, self.rows)
        super().__init__(f"{where}: {message}" if where else message)


class DefinitionError(LabelAuditError, ValueError):
    """A dataset definition in ``expectations/<dataset>/`` is missing or invalid."""


class SchemaValidationError(LabelAuditError):
    """The batch failed its Great Expectations suite; fitting would be meaningless.

    ``failures`` holds the failed expectation results (see :class:`labelaudit.inputs.gx_suite.ExpectationOutcome`).
    """

    def __init__(self, message: str, failures: Sequence[object] = ()) -> None:
        self.failures = list(failures)
        super().__init__(message)


class FittingError(LabelAuditError):
    """Cross-validated fitting is impossible for this batch (e.g. a class smaller than the number of folds)."""


class DatabaseLockedError(LabelAuditError):
    """Another process holds the DuckDB write lock beyond the bounded wait.

    Not retried by tasks: the store has already waited ``LABELAUDIT_LOCK_TIMEOUT`` with backoff, and retrying
    the task would multiply the wait the user chose (3 retries turned a 5 s timeout into 82 s).
    """

    exit_code = 3


class DatabaseAccessError(LabelAuditError):
    """The database file cannot be written by this process (permissions, a read-only file system)."""


class RunNotFoundError(LabelAuditError, KeyError):
    """No run with that id is stored in the database."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class GateFailed(LabelAuditError):
    """The batch breaches its quality thresholds. Raised by callers that want an exception, not a verdict."""

    exit_code = 1

    def __init__(self, message: str, breaches: Sequence[object] = ()) -> None:
        self.breaches = list(breaches)
        super().__init__(message)
