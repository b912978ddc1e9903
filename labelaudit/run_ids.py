"""Run ids: sortable by start time, safe as folder, file and URL names.

Kept apart from the store (and its DuckDB import) because the CLI needs a run id first thing, to name the log
file that the Prefect API server it starts writes to.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from labelaudit.errors import InputDataError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def new_run_id() -> str:
    """A run id that sorts by start time and is safe in URLs and file names."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is safe as a folder and file name; else a clear error (it names reports and logs)."""
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise InputDataError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return run_id
