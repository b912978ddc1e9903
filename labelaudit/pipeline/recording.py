"""How every stage records itself: a failure is stored (and the run marked failed) before it is re-raised.

A run therefore never stays "running" because of an error we saw; a killed process is caught later by
``AuditStore.recover_stale_runs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from labelaudit.errors import LabelAuditError
from labelaudit.store import AuditStore
from labelaudit.store.database import utcnow

__all__ = ["recording"]


@contextmanager
def recording(store: AuditStore, run_id: str, stage: str) -> Iterator[datetime]:
    """Yield the stage's start time; on any error, store the failure and re-raise it."""
    started = utcnow()
    try:
        yield started
    except Exception as exc:
        message = str(exc) if isinstance(exc, LabelAuditError) else f"{type(exc).__name__}: {exc}"
        store.fail_stage(run_id, stage, started_at=started, message=message)
        raise
