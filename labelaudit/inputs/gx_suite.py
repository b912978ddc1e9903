"""Running a Great Expectations suite on a DataFrame, reduced to small typed results.

GX is imported here and only here, lazily, because importing it costs several seconds and most commands
(``labelaudit --help``, ``labelaudit runs``) never need it. Both the schema check of a batch and the quality
gate go through :func:`run_suite`, so their results are stored and rendered the same way.
"""

from __future__ import annotations

import html
import math
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, with what a person needs to fix the data.

    ``rows`` are 1-based data-row numbers (the header is not counted) of a few unexpected values.
    """

    code: str | None
    expectation_type: str
    column: str | None
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    observed_value: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def describe(self) -> str:
        """A one-line explanation, e.g. ``[S03] species: 2 of 344 values (0.6%) not in the allowed set``."""
        what = self.expectation_type.removeprefix("expect_").replace("_", " ")
        head = f"[{self.code}] " if self.code else ""
        col = f"column {self.column!r}: " if self.column else ""
        if self.message:
            return f"{head}{col}{what}: {self.message}"
        if self.unexpected_count:
            pct = f" ({self.unexpected_percent:.1f}%)" if self.unexpected_percent is not None else ""
            rows = f" at rows {', '.join(map(str, self.rows))}" if self.rows else ""
            examples = f"; e.g. {', '.join(repr(e) for e in self.examples)}" if self.examples else ""
            return f"{head}{col}{what}: {self.unexpected_count} of {self.element_count} rows{pct} fail{rows}{examples}"
        if self.observed_value is not None:
            return f"{head}{col}{what}: observed {self.observed_value!r}"
        return f"{head}{col}{what}"


@dataclass(frozen=True)
class SuiteOutcome:
    """All results of one suite run; ``data_docs`` is the GX Data Docs index page when one was built."""

    suite_name: str
    success: bool
    outcomes: list[ExpectationOutcome]
    data_docs: Path | None = None

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def _clean(value: Any) -> Any:
    """JSON-safe example values (NaN becomes None)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _outcome(result: Any, frame: pd.DataFrame) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    info = result.result or {}
    message = None
    exception = result.exception_info or {}
    if exception.get("raised_exception") or any(
        isinstance(v, dict) and v.get("raised_exception") for v in exception.values()
    ):
        texts = [exception.get("exception_message")] + [
            v.get("exception_message") for v in exception.values() if isinstance(v, dict)
        ]
        message = next((t for t in texts if t), "the expectation could not be evaluated")
        if "does not exist" in message:
            message = f"column is missing (columns present: {', '.join(map(str, frame.columns))})"
    index = info.get("partial_unexpected_index_list") or []
    positions = [frame.index.get_loc(i) + 1 for i in index if i in frame.index]
    return ExpectationOutcome(
        code=(config.meta or {}).get("code"),
        expectation_type=config.type,
        column=kwargs.get("column"),
        success=bool(result.success),
        element_count=info.get("element_count"),
        unexpected_count=info.get("unexpected_count"),
        unexpected_percent=info.get("unexpected_percent"),
        examples=[_clean(v) for v in (info.get("partial_unexpected_list") or [])][:5],
        rows=positions[:5],
        observed_value=_clean(info.get("observed_value")),
        kwargs={k: _clean(v) if not isinstance(v, list) else v for k, v in kwargs.items()},
        message=message,
    )


def run_suite(frame: pd.DataFrame, suite: dict[str, Any], *, data_docs_dir: Path | None = None) -> SuiteOutcome:
    """Validate ``frame`` against ``suite`` (GX Core 1.x suite JSON) in an ephemeral context.

    With ``data_docs_dir`` the GX Data Docs site for this validation is built there, with every value that came
    from the data or the suite escaped (see :func:`_build_data_docs`).
    """
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    name = str(suite.get("name") or "suite")
    expectations = [dict(e) for e in suite.get("expectations", [])]
    gx_suite = context.suites.add(ExpectationSuite(name=name, expectations=expectations, meta=suite.get("meta")))
    batch = context.data_sources.add_pandas("labelaudit").add_dataframe_asset("batch")
    definition = batch.add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}-{uuid.uuid4().hex[:8]}", data=definition, suite=gx_suite)
    )
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
    results = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    docs_index = None
    if data_docs_dir is not None:
        docs_index = _build_data_docs(context, Path(data_docs_dir))
    outcomes = [_outcome(r, frame) for r in results.results]
    return SuiteOutcome(name, all(o.success for o in outcomes), outcomes, docs_index)


# -- Data Docs: GX renders some values as raw HTML, so it only ever sees opaque tokens ----------------------

#: Keys whose string values steer GX's rendering and never come from the data (left as they are).
_CONTROL_KEYS = frozenset({"result_format", "condition_parser", "batch_id", "catch_exceptions", "include_config"})


class _Tokens:
    """Replaces every string from the data or the suite by an inert token, and later by its escaped text.

    GX 1.x writes column names, unexpected values and some options into its pages without escaping them (a
    label ``<script>...`` runs in the page). GX never sees those strings here: it renders tokens made of
    letters and digits only, and :meth:`restore` writes each original value back, escaped for where it landed
    (HTML text or attribute, or inside a script). Equal strings share a token.
    """

    def __init__(self) -> None:
        self.prefix = f"LAT{uuid.uuid4().hex[:10]}"
        self.values: dict[str, str] = {}

    def token(self, value: str) -> str:
        return self.values.setdefault(value, f"{self.prefix}{len(self.values):07d}Z")

    def tokenize(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            return value if key in _CONTROL_KEYS else self.token(value)
        if isinstance(value, list | tuple):
            return [self.tokenize(v) for v in value]
        if isinstance(value, dict):
            return {k: v if k in _CONTROL_KEYS else self.tokenize(v, k) for k, v in value.items()}
        return value

    def restore(self, page: str) -> str:
        originals = {token: text for text, token in self.values.items()}
        pattern = re.compile(re.escape(self.prefix) + r"\d{7}Z")
        pieces, last = [], 0
        for match in _SCRIPT.finditer(page):  # inside scripts: JavaScript string escapes, outside: HTML
            pieces.append(pattern.sub(lambda m: html.escape(originals[m.group(0)]), page[last : match.start(1)]))
            pieces.append(pattern.sub(lambda m: _js_escape(originals[m.group(0)]), match.group(1)))
            last = match.end(1)
        pieces.append(pattern.sub(lambda m: html.escape(originals[m.group(0)]), page[last:]))
        return "".join(pieces)


_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)


def _js_escape(text: str) -> str:
    """``text`` with everything but letters, digits and spaces as ``\\uXXXX``: inert in any script string."""
    units = text.encode("utf-16-le")
    out = []
    for i in range(0, len(units), 2):
        code = int.from_bytes(units[i : i + 2], "little")
        char = chr(code)
        out.append(char if char.isascii() and (char.isalnum() or char == " ") else f"\\u{code:04x}")
    return "".join(out)


def _tokenized_result(result: Any, tokens: _Tokens) -> Any:
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    data = result if isinstance(result, dict) else result.to_json_dict()
    for item in data["results"]:
        config = item["expectation_config"]
        config["kwargs"] = tokens.tokenize(config.get("kwargs") or {})
        config["meta"] = tokens.tokenize(config.get("meta") or {})
        item["result"] = tokens.tokenize(item.get("result") or {})
        item["exception_info"] = tokens.tokenize(item.get("exception_info") or {})
    return ExpectationSuiteValidationResultSchema().load(data)


def _tokenized_suite(suite: Any, tokens: _Tokens) -> Any:
    from great_expectations.core import ExpectationSuite

    data = suite if isinstance(suite, dict) else suite.to_json_dict()  # the store hands out plain dicts
    expectations = [
        {
            "type": e["type"],
            "kwargs": tokens.tokenize(e.get("kwargs") or {}),
            "meta": tokens.tokenize(e.get("meta") or {}),
        }
        for e in data["expectations"]
    ]
    return ExpectationSuite(name=data["name"], expectations=expectations, meta=tokens.tokenize(data.get("meta") or {}))


def _build_data_docs(context: Any, folder: Path) -> Path:
    """Build the Data Docs of the context's validation into ``folder``, every data value escaped.

    The stored validation result and suite are swapped for tokenized copies (GX renders from its stores), the
    site is built, and each page gets the original values back, escaped. Returns the site's index page.
    """
    tokens = _Tokens()
    results_store, suites_store = context.validation_results_store, context.expectations_store
    for key in results_store.list_keys():
        results_store.set(key, _tokenized_result(results_store.get(key), tokens))
    for key in suites_store.list_keys():
        suites_store.set(key, _tokenized_suite(suites_store.get(key), tokens))
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context.add_data_docs_site(site_name="labelaudit", site_config=site)
    context.build_data_docs(site_names=["labelaudit"])
    for page in folder.rglob("*.html"):
        page.write_text(tokens.restore(page.read_text(encoding="utf-8")), encoding="utf-8")
    return folder / "index.html"


def outcomes_frame(outcomes: list[ExpectationOutcome]) -> pd.DataFrame:
    """The rows stored in ``validation_results``."""
    import json

    return pd.DataFrame(
        {
            "code": [o.code for o in outcomes],
            "expectation_type": [o.expectation_type for o in outcomes],
            "column_name": [o.column for o in outcomes],
            "success": [o.success for o in outcomes],
            "element_count": pd.array([o.element_count for o in outcomes], dtype="Int64"),
            "unexpected_count": pd.array([o.unexpected_count for o in outcomes], dtype="Int64"),
            "unexpected_percent": pd.array([o.unexpected_percent for o in outcomes], dtype="Float64"),
            "examples": [json.dumps({"values": o.examples, "rows": o.rows}, default=str) for o in outcomes],
            "kwargs": [json.dumps(o.kwargs, default=str) for o in outcomes],
            "message": [o.message or (None if o.success else o.describe()) for o in outcomes],
        }
    )
