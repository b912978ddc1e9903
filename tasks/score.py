"""Confident-learning scoring and the quality gate."""

from __future__ import annotations

from typing import Any

import numpy as np
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.kinds import FitInputsLike, kind_for
from labelaudit.pipeline.gate import GateResult, judge_batch
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.score import ScoredBatch
from labelaudit.store import AuditStore


def score_run_name(parameters: dict[str, Any]) -> str:
    """``score`` (multiclass) or ``score-sequences`` (multi-label, token): the kind names the run."""
    return kind_for(parameters["bundle"].definition.label_type).score_run_name


@task(
    name="score",
    task_run_name=score_run_name,
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def score_labels(
    store: AuditStore,
    run_id: str,
    batch: Batch,
    inputs: FitInputsLike,
    probs: np.ndarray,
    bundle: DatasetBundle,
    oof_log_loss: float | None,
) -> ScoredBatch:
    """Confident learning as the kind scores it (multiclass: with ``flag_cutoff_from_reviews`` in quality.json,
    flags only up to the cut-off learned from reviews)."""
    kind = kind_for(bundle.definition.label_type)
    scored = kind.score(store, run_id, batch, inputs, probs, bundle, oof_log_loss=oof_log_loss)
    get_run_logger().info("%s", kind.score_message(scored.run_metrics.iloc[0]))
    return scored


@task(
    name="quality-gate",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def quality_gate(store: AuditStore, run_id: str, scored: ScoredBatch, bundle: DatasetBundle) -> GateResult:
    result = judge_batch(store, run_id, scored, bundle)
    logger = get_run_logger()
    for check in result.checks:
        (logger.info if check.passed else logger.error)("gate: %s", check.describe())
    return result
