"""Stage ``gate``: does the batch pass? Its measured rates against the thresholds in ``quality.json`` (table
``gate_results``).

The thresholds become Great Expectations expectations on a one-row table of the run's metrics (one column per
measured quantity, e.g. ``estimated_error_rate`` and ``estimated_error_rate[cat]``), so the gate is judged by
the same engine as the schema and stored and reported the same way. Each check carries a code (``GATE-*``)
and a margin: positive means room left, negative means breached by that much.

The data-issue thresholds (issue 14, :data:`DATA_ISSUE_CHECKS`) compare the rates the ``data_issues`` stage
stored in ``data_issue_summary``; a threshold whose issue type the run did not check (not applicable to the
label kind, no feature columns, a run without that stage) is not planned, as if it were ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from labelaudit.errors import DefinitionError
from labelaudit.inputs.definition import DatasetBundle, QualityThresholds
from labelaudit.inputs.gx_suite import run_suite
from labelaudit.pipeline.recording import recording
from labelaudit.pipeline.score import ScoredBatch
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.queries import data_issue_rates

#: (code, quality.json threshold, comparison, issue type whose ``data_issue_summary.rate`` it checks)
DATA_ISSUE_CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("GATE-DUP", "max_duplicate_rate", "max", "exact_duplicate"),
    ("GATE-CONFLICT", "max_conflicting_duplicate_rate", "max", "conflicting_duplicate"),
    ("GATE-NEAR-DUP", "max_near_duplicate_rate", "max", "near_duplicate"),
    ("GATE-OUTLIER", "max_outlier_rate", "max", "outlier"),
    ("GATE-LEAK", "max_leaked_rate", "max", "leaked_duplicate"),
    ("GATE-DRIFT", "max_label_drift_psi", "max", "label_drift"),
    ("GATE-IMBALANCE", "min_class_share", "min", "class_imbalance"),
)


@dataclass(frozen=True)
class GateCheck:
    code: str
    threshold: str
    scope: str
    comparison: str  # "max" or "min"
    limit_value: float
    measured: float
    passed: bool

    @property
    def margin(self) -> float:
        gap = self.limit_value - self.measured
        return gap if self.comparison == "max" else -gap

    def describe(self) -> str:
        sign = "<=" if self.comparison == "max" else ">="
        where = "" if self.scope == "overall" else f" for class {self.scope!r}"
        state = "ok" if self.passed else "BREACHED"
        return f"{self.threshold}{where}: measured {self.measured:.4f}, limit {sign} {self.limit_value:.4f} ({state})"


@dataclass(frozen=True)
class GateResult:
    checks: list[GateCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def breaches(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def verdict(self) -> str:
        return "accepted" if self.passed else "rejected"

    def message(self) -> str:
        if self.passed:
            return f"batch accepted: {len(self.checks)} threshold(s) met"
        return "batch rejected: " + "; ".join(c.describe() for c in self.breaches)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "code": c.code,
                    "threshold": c.threshold,
                    "scope": c.scope,
                    "comparison": c.comparison,
                    "limit_value": c.limit_value,
                    "measured": c.measured,
                    "passed": c.passed,
                    "margin": c.margin,
                }
                for c in self.checks
            ],
            columns=["code", "threshold", "scope", "comparison", "limit_value", "measured", "passed", "margin"],
        )


def _planned_checks(
    quality: QualityThresholds, run_metrics: dict[str, float], class_rates: dict[str, float]
) -> list[tuple[str, str, str, str, float, str, float]]:
    """(code, threshold, scope, comparison, limit, metric column, measured) for each threshold that is set."""
    planned = []
    overall = [
        ("GATE-ERR", "max_label_error_rate", "max", quality.max_label_error_rate, "estimated_error_rate"),
        ("GATE-FLAG", "max_flagged_rate", "max", quality.max_flagged_rate, "flagged_rate"),
        ("GATE-ACC", "min_oof_accuracy", "min", quality.min_oof_accuracy, "oof_accuracy"),
    ]
    for code, name, comparison, limit, metric in overall:
        if limit is not None:
            planned.append((code, name, "overall", comparison, float(limit), metric, float(run_metrics[metric])))
    unknown = sorted(set(quality.max_class_label_error_rate) - set(class_rates))
    if unknown:
        raise DefinitionError(
            f"quality.json sets max_class_label_error_rate for {unknown}, which are not classes of this dataset "
            f"({sorted(class_rates)})"
        )
    for label, limit in quality.max_class_label_error_rate.items():
        column = f"estimated_error_rate[{label}]"
        planned.append(
            (
                "GATE-CLASS-ERR",
                "max_class_label_error_rate",
                label,
                "max",
                float(limit),
                column,
                float(class_rates[label]),
            )
        )
    return planned


def _data_issue_checks(
    quality: QualityThresholds, issue_rates: dict[str, float]
) -> list[tuple[str, str, str, str, float, str, float]]:
    """The data-issue thresholds that are set and whose issue type the run checked."""
    planned = []
    for code, name, comparison, issue_type in DATA_ISSUE_CHECKS:
        limit = getattr(quality, name)
        if limit is not None and issue_type in issue_rates:
            metric = f"{issue_type}_rate"
            planned.append((code, name, "overall", comparison, float(limit), metric, issue_rates[issue_type]))
    return planned


def evaluate_gate(
    quality: QualityThresholds,
    run_metrics: dict[str, float],
    class_rates: dict[str, float],
    issue_rates: dict[str, float] | None = None,
) -> GateResult:
    """Judge the run's metrics against ``quality`` with Great Expectations.

    ``issue_rates``: ``data_issue_summary.rate`` per issue type the run checked (:data:`DATA_ISSUE_CHECKS`).
    """
    planned = _planned_checks(quality, run_metrics, class_rates) + _data_issue_checks(quality, issue_rates or {})
    if not planned:
        return GateResult([])
    table = pd.DataFrame({column: [measured] for *_, column, measured in planned})
    expectations = []
    for code, _, _, comparison, limit, column, _ in planned:
        kind = "expect_column_max_to_be_between" if comparison == "max" else "expect_column_min_to_be_between"
        bounds = {"max_value": limit} if comparison == "max" else {"min_value": limit}
        expectations.append({"type": kind, "kwargs": {"column": column, **bounds}, "meta": {"code": code}})
    outcome = run_suite(table, {"name": "quality-gate", "expectations": expectations})
    checks = [
        GateCheck(code, name, scope, comparison, limit, measured, result.success)
        for (code, name, scope, comparison, limit, _, measured), result in zip(planned, outcome.outcomes, strict=True)
    ]
    return GateResult(checks)


def judge_batch(store: AuditStore, run_id: str, scored: ScoredBatch, bundle: DatasetBundle) -> GateResult:
    """The gate stage: judge the scored batch against ``quality.json`` and store each threshold's outcome."""
    with recording(store, run_id, "gate") as started:
        rates = dict(zip(scored.class_metrics["label"], scored.class_metrics["estimated_error_rate"], strict=True))
        result = evaluate_gate(bundle.quality, scored.metrics, rates, data_issue_rates(store, run_id))
        store.write_stage(
            run_id, "gate", StageWrite({"gate_results": result.frame()}, started, message=result.message())
        )
    return result
