"""Running a Great Expectations suite on a DataFrame, reduced to small typed results.

GX is imported here and only here, lazily, because importing it costs several seconds and most commands
(``labelaudit --help``, ``labelaudit runs``) never need it. Both the schema check of a batch and the quality
gate go through :func:`run_suite`, so their results are stored and rendered the same way.
"""

from __future__ import annotations

import math
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

    With ``data_docs_dir`` the GX Data Docs site for this validation is built there.
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
    docs_index = None
    if data_docs_dir is None:
        results = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    else:
        site = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        context.add_data_docs_site(site_name="labelaudit", site_config=site)
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}-checkpoint",
                validation_definitions=[validation],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["labelaudit"])],
                result_format=result_format,
            )
        )
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        results = next(iter(run.run_results.values()))
        docs_index = data_docs_dir / "index.html"
    outcomes = [_outcome(r, frame) for r in results.results]
    return SuiteOutcome(name, all(o.success for o in outcomes), outcomes, docs_index)


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
