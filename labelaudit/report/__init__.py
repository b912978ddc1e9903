"""The quality report: one self-contained HTML page per run, an index of every run, and where they go.

- :func:`publish_run` renders a run's report from DuckDB, writes it to ``<destination>/<dataset>/<run_id>/``
  (a local folder or any fsspec URL), copies the run's GX Data Docs beside it, and refreshes the index.
- :func:`publish_index` rewrites ``<destination>/index.html`` (every run per dataset).
- :func:`serve_reports` serves a local reports folder on loopback.
- :func:`load_run` / :func:`render_run` are the two halves of a report, for notebooks and tests.

This package never imports Prefect.
"""

from labelaudit.report.model import FlaggedTable, RunView, load_index, load_run
from labelaudit.report.publish import PublishedReport, UnsafePathError, publish_index, publish_run, report_relative_path
from labelaudit.report.render import json_for_script, render_index, render_run
from labelaudit.report.serve import report_server_url, serve_reports

__all__ = [
    "FlaggedTable",
    "PublishedReport",
    "RunView",
    "UnsafePathError",
    "json_for_script",
    "load_index",
    "load_run",
    "publish_index",
    "publish_run",
    "render_index",
    "render_run",
    "report_relative_path",
    "report_server_url",
    "serve_reports",
]
