"""A run's outcome in a few numbers, for the CLI's ``--json``, Prefect artifacts and scripts."""

from __future__ import annotations

from typing import Any

from labelaudit.store import AuditStore


def run_summary(store: AuditStore, run_id: str) -> dict[str, Any]:
    """Run id, status, verdict, headline metrics, each gate threshold, report and database paths."""
    run = store.run(run_id)
    metrics = store.query("SELECT * EXCLUDE (run_id) FROM run_metrics WHERE run_id = ?", [run_id])
    gate = store.query(
        "SELECT code, threshold, scope, comparison, limit_value, measured, passed, margin "
        "FROM gate_results WHERE run_id = ? ORDER BY code, scope",
        [run_id],
    )
    stages = store.query(
        "SELECT stage, status, seconds, message FROM run_stages WHERE run_id = ? ORDER BY started_at", [run_id]
    )
    m = metrics.iloc[0].to_dict() if not metrics.empty else {}
    return {
        "run_id": run_id,
        "dataset": run["dataset"],
        "source": run["source"],
        "status": run["status"],
        "verdict": run["verdict"],
        "message": run["message"],
        "rows": _int(m.get("rows")),
        "flagged_rows": _int(m.get("flagged")),
        "estimated_error_rate": _float(m.get("estimated_error_rate")),
        "flagged_rate": _float(m.get("flagged_rate")),
        "oof_accuracy": _float(m.get("oof_accuracy")),
        "method": m.get("method"),
        "tie_rule": m.get("tie_rule"),
        "scoring_path": m.get("scoring_path"),  # in-memory | out-of-core | distributed
        "engine": m.get("engine"),  # dask when scored with --engine dask, else None
        "workers": _int(m.get("workers")) if m.get("engine") else None,  # NULL (NaN) on other runs
        "gate": {
            "passed": None if gate.empty else bool(gate["passed"].all()),
            "thresholds": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in gate.to_dict("records")
            ],
        },
        "stages": [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in stages.to_dict("records")
        ],
        "report": run["report_path"],
        "database": str(store.path.resolve()),
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
