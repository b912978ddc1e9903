"""Where labelaudit keeps things, with embedded defaults so a first run needs no configuration.

Every location can be moved by an environment variable (useful for deployments, where the working directory
is not the project) or by the CLI's options, which take precedence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser()


@dataclass(frozen=True)
class Settings:
    """Resolved locations and limits for one process.

    Attributes
    ----------
    database : Path
        The DuckDB file that is the system of record (``LABELAUDIT_DB``, default ``./labelaudit.duckdb``).
    expectations_dir : Path
        Folder holding one sub-folder per dataset definition (``LABELAUDIT_EXPECTATIONS``).
    reports_dir : str
        Local folder or fsspec URL the HTML reports are published to (``LABELAUDIT_REPORTS``).
    report_base_url : str | None
        Public base URL of ``reports_dir`` used in links (``LABELAUDIT_REPORT_BASE_URL``), e.g. the address of
        ``labelaudit reports serve`` or of a bucket's web endpoint.
    lock_timeout : float
        Seconds to wait for the DuckDB write lock held by another process before giving up.
    """

    database: Path = field(default_factory=lambda: _env_path("LABELAUDIT_DB", "labelaudit.duckdb"))
    expectations_dir: Path = field(default_factory=lambda: _env_path("LABELAUDIT_EXPECTATIONS", "expectations"))
    reports_dir: str = field(default_factory=lambda: os.environ.get("LABELAUDIT_REPORTS") or "reports")
    report_base_url: str | None = field(default_factory=lambda: os.environ.get("LABELAUDIT_REPORT_BASE_URL"))
    lock_timeout: float = field(default_factory=lambda: float(os.environ.get("LABELAUDIT_LOCK_TIMEOUT", "60")))

    def with_overrides(self, **values: object) -> Settings:
        """Return a copy with the non-``None`` values replaced (CLI options that were given)."""
        given = {k: v for k, v in values.items() if v is not None}
        if "database" in given:
            given["database"] = Path(str(given["database"])).expanduser()
        if "expectations_dir" in given:
            given["expectations_dir"] = Path(str(given["expectations_dir"])).expanduser()
        if "reports_dir" in given:
            given["reports_dir"] = str(given["reports_dir"])
        return replace(self, **given)
