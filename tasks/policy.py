"""When a task is worth retrying.

Retrying a bad file only repeats the same error and delays the message a person needs to read; retrying after a
flaky filesystem often succeeds. So tasks retry only on errors marked retryable. A locked database is not: the
store already waits for the lock as long as the user allows (``LABELAUDIT_LOCK_TIMEOUT``).
"""

from __future__ import annotations

from typing import Any

from labelaudit.errors import LabelAuditError

#: Seconds between attempts: quick first, then backing off.
RETRY_DELAYS = [2, 10, 30]


def _exception_of(state: Any) -> BaseException | None:
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:
        return exc
    return None


def is_retryable(exc: BaseException | None) -> bool:
    """Infrastructure errors (I/O, network) are retryable; data errors and a locked database are not."""
    if isinstance(exc, LabelAuditError):
        return exc.retryable
    return isinstance(exc, OSError | TimeoutError | ConnectionError)


def retry_infrastructure_errors(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only when the failure is an infrastructure error."""
    return is_retryable(_exception_of(state))
