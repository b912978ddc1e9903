"""Turning view models into self-contained HTML pages (jinja2, autoescape on, CSS and JS inlined).

Every page carries a Content-Security-Policy that allows no network access at all and runs only the inline
script and style this module put there (by hash). So even if a value escaped escaping, the browser would
neither run it nor fetch anything. The flagged rows travel as JSON inside ``<script type="application/json">``
with ``<``, ``>``, ``&`` and the JavaScript line separators written as ``\\uXXXX`` escapes (see
:func:`json_for_script`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from labelaudit.report import charts
from labelaudit.report.model import DatasetIndex, RunView

_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}

#: Shown (and used to decide when a value needs a "show all" toggle) for long values in table cells.
CELL_PREVIEW_CHARS = 120
#: Flagged rows rendered into the page's HTML (the first page, readable without JavaScript and in print).
INITIAL_ROWS = 100


def json_for_script(value: Any) -> Markup:
    """``value`` as JSON that is safe inside ``<script type="application/json">``.

    ``</script>``, ``<!--`` and HTML entities cannot appear in the output, because ``<``, ``>`` and ``&``
    are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (which ``JSON.parse`` turns back into the same
    characters). NaN and infinities are refused: they are not JSON.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    return Markup(text.translate(_SCRIPT_ESCAPES))


def _static(name: str) -> str:
    return resources.files("labelaudit.report").joinpath("static", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(style: str, script: str | None) -> str:
    """No network, no plugins, no forms; only our own inline style and script (by hash) apply."""
    scripts = _csp_hash(script) if script else "'none'"
    return (
        f"default-src 'none'; style-src {_csp_hash(style)}; script-src {scripts}; img-src data:; "
        "base-uri 'none'; form-action 'none'; object-src 'none'"
    )


# -- filters --------------------------------------------------------------------------------------------


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _dt(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _dt_short(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _bytes(value: int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _signed(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:+.{digits}f} pp"


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _basename(path: str | None) -> str:
    if not path:
        return "–"
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("labelaudit", "report/templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_pct,
        num=_num,
        dt=_dt,
        dt_short=_dt_short,
        seconds=_seconds,
        bytes=_bytes,
        signed=_signed,
        pretty_json=_pretty_json,
        basename=_basename,
        tojson_script=json_for_script,
    )
    env.globals.update(preview_chars=CELL_PREVIEW_CHARS)
    return env


def _version() -> str:
    from labelaudit.store.database import code_version

    return code_version()


def render_run(view: RunView, *, index_href: str = "../../index.html", data_docs_href: str | None = None) -> str:
    """The report page of one run, as one self-contained HTML document."""
    style = _static("report.css")
    script = _static("report.js")
    overall_limit = next((g.limit_value for g in view.gate if g.code == "GATE-ERR"), None)
    pictures = {
        "noise": charts.noise_heatmap(view.noise, view.labels, rows=view.metrics.rows if view.metrics else 0),
        "classes": charts.class_error_bars(view.classes, view.gate),
        "scores": charts.score_histogram(view.histogram, view.flag_cutoff),
        "trend": charts.trend_chart(view.trend, overall_limit),
    }
    table = view.flagged
    data = {
        "columns": table.columns,
        "formats": [{"kind": f.kind, "digits": f.digits} for f in table.formats],
        "rows": table.rows,
        "total": table.total,
        "filename": f"{view.dataset}-{view.run_id}-flagged.csv",
        "preview": CELL_PREVIEW_CHARS,
    }
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            run=view,
            pictures=pictures,
            flagged_json=json_for_script(data),
            initial_rows=table.rows[:INITIAL_ROWS],
            style=Markup(style),
            script=Markup(script),
            csp=content_security_policy(style, script),
            index_href=index_href,
            data_docs_href=data_docs_href,
            generated_at=datetime.now(UTC),
            generator_version=_version(),
        )
    )


def render_index(datasets: list[DatasetIndex], report_hrefs: dict[tuple[str, str], str]) -> str:
    """The page listing every run per dataset; ``report_hrefs[(dataset, run_id)]`` links published reports."""
    style = _static("report.css")
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            datasets=datasets,
            sparklines={d.name: charts.sparkline(d.trend) for d in datasets},
            report_hrefs=report_hrefs,
            style=Markup(style),
            csp=content_security_policy(style, None),
            generated_at=datetime.now(UTC),
            generator_version=_version(),
        )
    )
