"""Realistic runs written into a real DuckDB file, stage by stage, with the columns the stages write.

The numbers are simulated (a true label, a noisy given label, softmax probabilities peaked at the true label)
but every table is filled the way the stages of ``labelaudit.pipeline`` fill it, through ``AuditStore.begin_run`` and
``write_stage``, so the report reads exactly what a real run leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from labelaudit.inputs.gx_suite import ExpectationOutcome, outcomes_frame
from labelaudit.pipeline.gate import GateCheck, GateResult
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

HOSTILE_TEXTS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror="window.__xss=1">',
    '" onerror="window.__xss=2',
    "</script><script>window.__xss=3</script>",
    "<!-- <script> -->",
    "مرحبا بالعالم \u202eevil\u202c שלום",
    "emoji 🧪🔥 and zero\u200bwidth",
    '=HYPERLINK("http://evil.example","click")',
    "{{ 7*7 }} {% raw %}",
)
HOSTILE_COLUMN = "<b>x</b>"
HOSTILE_LABEL = '<script>alert("label")</script>'
HOSTILE_ID = '<img src=x onerror="window.__xss=4">'
LONG_TEXT = ("A very long review that keeps going. " * 140)[:5000]


@dataclass(frozen=True)
class BuiltRun:
    run_id: str
    dataset: str
    rows: int
    flagged: int
    classes: list[str]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def build_run(
    store: AuditStore,
    *,
    dataset: str,
    run_id: str,
    rows: int,
    flagged: int,
    classes: list[str],
    noise: float = 0.08,
    seed: int = 0,
    hostile: bool = False,
    started_at: datetime | None = None,
    fail_validation: bool = False,
    gate: dict[str, float] | None = None,
    text_chars: int = 60,
) -> BuiltRun:
    """Write one complete run (or one that fails validation) and return what was written."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    source = f"/data/incoming/{dataset}-batch-{seed:03d}.csv"
    params = {"dataset": dataset, "source": source, "folds": 5, "model": "logistic_regression", "seed": seed}
    store.begin_run(dataset=dataset, source=source, params=params, run_id=run_id, flow_run_id=f"flow-{seed}")
    if started_at is not None:
        with store.connect() as con:
            con.execute("UPDATE runs SET started_at = ? WHERE run_id = ?", [started_at, run_id])
    t0 = started_at or utcnow()

    # -- ingest -------------------------------------------------------------------------------------------
    true = rng.integers(0, k, rows)
    flip = rng.random(rows) < noise
    given = np.where(flip, (true + rng.integers(1, k, rows)) % k, true) if k > 1 else true
    names = np.asarray(classes, dtype=object)
    words = np.array(["good", "bad", "fine", "slow", "fast", "broken", "great", "awful", "ok", "meh"])
    texts = [" ".join(rng.choice(words, max(1, text_chars // 5))) for _ in range(rows)]
    ids = [f"r{i:06d}" for i in range(rows)]
    notes = [None] * rows
    if hostile:
        for j, value in enumerate(HOSTILE_TEXTS):
            texts[j] = value
        texts[len(HOSTILE_TEXTS)] = LONG_TEXT
        ids[len(HOSTILE_TEXTS) + 1] = HOSTILE_ID
        notes[0] = '"onerror='
    frame = pd.DataFrame(
        {
            "review_id": pd.array(ids, dtype="str"),
            "text": pd.array(texts, dtype="str"),
            "stars": rng.integers(1, 6, rows),
            "channel": rng.choice(["web", "app", "mail"], rows),
            "sentiment": pd.array(names[given].astype(str), dtype="str"),
        }
    )
    if hostile:
        frame[HOSTILE_COLUMN] = pd.array(notes, dtype="str")
    roles = {"review_id": "id", "sentiment": "label", "text": "text", "stars": "numeric", "channel": "categorical"}
    columns = pd.DataFrame(
        {
            "position": np.arange(len(frame.columns), dtype=np.int32),
            "column_name": [str(c) for c in frame.columns],
            "dtype": [str(t) for t in frame.dtypes],
            "role": [roles.get(str(c), "other") for c in frame.columns],
        }
    )
    ingested = pd.DataFrame(
        {
            "row_idx": np.arange(rows, dtype=np.int64),
            "row_id": frame["review_id"].to_numpy(),
            "given_label": frame["sentiment"].to_numpy(),
            "record": frame.to_json(orient="records", lines=True, force_ascii=False).splitlines(),
        }
    )
    batch = pd.DataFrame(
        [
            {
                "path": source,
                "sha256": f"{seed:02d}" * 32,
                "bytes": rows * 80,
                "rows": rows,
                "format": "csv",
                "ingested_at": t0 + timedelta(seconds=1),
            }
        ]
    )
    store.write_stage(
        run_id,
        "ingest",
        StageWrite(
            {"batches": batch, "ingested_columns": columns, "ingested_rows": ingested},
            t0,
            rows=rows,
            message=f"{source} (csv)",
            finished_at=t0 + timedelta(seconds=1),
        ),
    )

    # -- validate -----------------------------------------------------------------------------------------
    outcomes = [
        ExpectationOutcome("S01", "expect_column_to_exist", "review_id", True),
        ExpectationOutcome("S02", "expect_column_values_to_not_be_null", "text", True, rows, 0, 0.0),
        ExpectationOutcome(
            "S03",
            "expect_column_values_to_be_between",
            "stars",
            True,
            rows,
            0,
            0.0,
            kwargs={"min_value": 1, "max_value": 5},
        ),
    ]
    if hostile or fail_validation:
        outcomes.append(
            ExpectationOutcome(
                "S04",
                "expect_column_values_to_be_in_set",
                "channel",
                not fail_validation,
                rows,
                3 if fail_validation else 0,
                300 / rows if fail_validation else 0.0,
                examples=["<script>alert('gx')</script>", "fax"] if fail_validation else [],
                rows=[4, 17, 99] if fail_validation else [],
            )
        )
    met = sum(o.success for o in outcomes)
    store.write_stage(
        run_id,
        "validate",
        StageWrite(
            {"validation_results": outcomes_frame(outcomes)},
            t0 + timedelta(seconds=1),
            rows=rows,
            message=f"{met} of {len(outcomes)} expectations met",
            finished_at=t0 + timedelta(seconds=3),
        ),
    )
    if fail_validation:
        store.fail_stage(
            run_id,
            "validate",
            started_at=t0 + timedelta(seconds=1),
            message=f"{source} failed 1 of {len(outcomes)} schema expectations:\n  - [S04] channel: 3 rows fail",
        )
        with store.connect() as con:
            finished = t0 + timedelta(seconds=3)
            con.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", [finished, run_id])
            con.execute(
                "UPDATE run_stages SET finished_at = ?, seconds = 2 WHERE run_id = ? AND stage = 'validate'",
                [finished, run_id],
            )
        return BuiltRun(run_id, dataset, rows, 0, classes)

    # -- fit ----------------------------------------------------------------------------------------------
    logits = rng.normal(0, 1.0, (rows, k))
    logits[np.arange(rows), true] += 2.5
    probs = _softmax(logits)
    fold_of = rng.integers(0, 5, rows).astype(np.int32)
    accuracy = float((probs.argmax(axis=1) == given).mean())
    log_loss = float(-np.log(np.clip(probs[np.arange(rows), given], 1e-12, 1)).mean())
    folds = pd.DataFrame(
        {
            "fold": pd.array([0, 1, 2, 3, 4, None], dtype="Int32"),
            "rows": [int((fold_of == f).sum()) for f in range(5)] + [rows],
            "accuracy": [accuracy] * 6,
            "log_loss": [log_loss] * 6,
            "seconds": [0.4, 0.5, 0.45, 0.42, 0.48, None],
        }
    )
    oof = pa.table(
        {
            "row_idx": pa.array(np.arange(rows, dtype=np.int64)),
            "fold": pa.array(fold_of, type=pa.int32()),
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), k),
        }
    )
    class_frame = pd.DataFrame(
        {"class_idx": np.arange(k, dtype=np.int32), "label": classes, "given_count": np.bincount(given, minlength=k)}
    )
    store.write_stage(
        run_id,
        "fit",
        StageWrite(
            {"classes": class_frame, "fold_metrics": folds, "oof_probs": oof},
            t0 + timedelta(seconds=3),
            rows=rows,
            message="5 folds",
            finished_at=t0 + timedelta(seconds=9),
        ),
    )

    # -- score --------------------------------------------------------------------------------------------
    quality = probs[np.arange(rows), given].astype(np.float64)
    if hostile:  # the hostile rows are the most suspicious, so they are flagged and on the first page
        quality[: len(HOSTILE_TEXTS) + 2] = np.linspace(1e-6, 1e-5, len(HOSTILE_TEXTS) + 2)
    suggested = probs.argmax(axis=1)
    suspicious = np.argsort(quality, kind="stable")
    flagged_idx = suspicious[:flagged]
    mask = np.zeros(rows, dtype=bool)
    mask[flagged_idx] = True
    rank = pd.array([pd.NA] * rows, dtype="Int32")
    rank[flagged_idx] = np.arange(1, flagged + 1)
    scores = pd.DataFrame(
        {
            "row_idx": np.arange(rows, dtype=np.int64),
            "row_id": frame["review_id"].to_numpy(),
            "given_label": names[given],
            "suggested_label": names[suggested],
            "suggested_prob": probs[np.arange(rows), suggested].astype(np.float64),
            "label_quality": quality,
            "is_issue": mask,
            "issue_rank": rank,
        }
    )
    counts = np.zeros((k, k))
    np.add.at(counts, (given, true), 1)
    joint = counts / rows
    column = joint.sum(axis=0, keepdims=True)
    noise_m = np.divide(joint, column, out=np.zeros_like(joint), where=column > 0)
    gi, ti = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    noise_frame = pd.DataFrame(
        {
            "given_label": names[gi.ravel()],
            "true_label": names[ti.ravel()],
            "confident_count": counts.ravel(),
            "joint": joint.ravel(),
            "noise": noise_m.ravel(),
        }
    )
    given_count = np.bincount(given, minlength=k)
    flagged_count = np.bincount(given[mask], minlength=k)
    row_mass = joint.sum(axis=1)
    error = np.where(row_mass > 0, 1 - np.diag(joint) / np.where(row_mass > 0, row_mass, 1), 0.0)
    correct = np.bincount(given[suggested == given], minlength=k)
    class_metrics = pd.DataFrame(
        {
            "label": classes,
            "given_count": given_count.astype(np.int64),
            "flagged": flagged_count.astype(np.int64),
            "estimated_error_rate": error,
            "flagged_rate": flagged_count / np.maximum(given_count, 1),
            "oof_accuracy": correct / np.maximum(given_count, 1),
        }
    )
    error_rate = float(1 - np.trace(joint))
    run_metrics = pd.DataFrame(
        {
            "rows": [rows],
            "classes": [k],
            "flagged": [flagged],
            "estimated_issues": [error_rate * rows],
            "estimated_error_rate": [error_rate],
            "flagged_rate": [flagged / rows],
            "oof_accuracy": [accuracy],
            "oof_log_loss": [log_loss],
            "method": ["prune_by_noise_rate"],
            "tie_rule": ["lowest class index"],
            "scoring_path": ["in-memory"],
        }
    )
    store.write_stage(
        run_id,
        "score",
        StageWrite(
            {"scores": scores, "noise_matrix": noise_frame, "class_metrics": class_metrics, "run_metrics": run_metrics},
            t0 + timedelta(seconds=9),
            rows=rows,
            message=f"{flagged} rows flagged",
            finished_at=t0 + timedelta(seconds=10),
        ),
    )

    # -- gate ---------------------------------------------------------------------------------------------
    limits = gate if gate is not None else {"max_label_error_rate": 0.10, "min_oof_accuracy": 0.6}
    checks = []
    measured = {"max_label_error_rate": error_rate, "max_flagged_rate": flagged / rows, "min_oof_accuracy": accuracy}
    codes = {"max_label_error_rate": "GATE-ERR", "max_flagged_rate": "GATE-FLAG", "min_oof_accuracy": "GATE-ACC"}
    for name, limit in limits.items():
        comparison = "min" if name.startswith("min") else "max"
        value = measured[name]
        passed = value >= limit if comparison == "min" else value <= limit
        checks.append(GateCheck(codes[name], name, "overall", comparison, limit, value, passed))
    first = classes[0]
    checks.append(
        GateCheck(
            "GATE-CLASS-ERR", "max_class_label_error_rate", first, "max", 0.12, float(error[0]), float(error[0]) <= 0.12
        )
    )
    result = GateResult(checks)
    store.write_stage(
        run_id,
        "gate",
        StageWrite(
            {"gate_results": result.frame()},
            t0 + timedelta(seconds=10),
            message=result.message(),
            finished_at=t0 + timedelta(seconds=11),
        ),
    )
    store.finish_run(
        run_id, status="completed" if result.passed else "rejected", verdict=result.verdict, message=result.message()
    )
    if started_at is not None:
        with store.connect() as con:
            con.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", [t0 + timedelta(seconds=12), run_id])
    return BuiltRun(run_id, dataset, rows, flagged, classes)


def day(n: int) -> datetime:
    """A fixed start time ``n`` days after 2026-11-01 09:00 UTC."""
    return datetime(2026, 11, 1, 9, 0, tzinfo=UTC) + timedelta(days=n)
