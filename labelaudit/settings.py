"""Where labelaudit keeps things, with embedded defaults so a first run needs no configuration.

Every location can be moved by an environment variable (useful for deployments, where the working directory
is not the project) or by the CLI's options, which take precedence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Default ``memory_budget``: 2 GiB.
DEFAULT_MEMORY_BUDGET = 2 * 1024**3
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}  # fmt: skip


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser()


def parse_bytes(text: str | int) -> int:
    """``"2GiB"``, ``"512 MB"``, ``"1e9"`` or ``2147483648`` as a number of bytes (units: B, kB/KiB, MB/MiB, ...)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-z]*)\s*", str(text).lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"cannot read {text!r} as a size in bytes; write e.g. 2GiB, 512MB or 1073741824")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


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
    memory_budget : int
        Bytes of memory an audit may use for its data (``LABELAUDIT_MEMORY_BUDGET``, e.g. ``2GiB``, the default).
        The in-memory ``audit`` refuses precomputed probabilities larger than this (pointing to
        ``labelaudit score``, which streams them); ``labelaudit score`` gives it to DuckDB as its memory limit.
    """

    database: Path = field(default_factory=lambda: _env_path("LABELAUDIT_DB", "labelaudit.duckdb"))
    expectations_dir: Path = field(default_factory=lambda: _env_path("LABELAUDIT_EXPECTATIONS", "expectations"))
    reports_dir: str = field(default_factory=lambda: os.environ.get("LABELAUDIT_REPORTS") or "reports")
    report_base_url: str | None = field(default_factory=lambda: os.environ.get("LABELAUDIT_REPORT_BASE_URL"))
    lock_timeout: float = field(default_factory=lambda: float(os.environ.get("LABELAUDIT_LOCK_TIMEOUT", "60")))
    memory_budget: int = field(
        default_factory=lambda: parse_bytes(os.environ.get("LABELAUDIT_MEMORY_BUDGET") or DEFAULT_MEMORY_BUDGET)
    )

    @property
    def log_dir(self) -> Path:
        """Where each run's log file goes (``LABELAUDIT_LOGS``; default ``labelaudit-logs/`` beside the database)."""
        return _env_path("LABELAUDIT_LOGS", str(self.database.parent / "labelaudit-logs"))

    def locations(self) -> dict[str, str]:
        """The three locations as the flows take them (``database``, ``reports``, ``expectations`` parameters)."""
        return {"database": str(self.database), "reports": self.reports_dir, "expectations": str(self.expectations_dir)}

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
