"""Confident-learning scoring and the quality gate."""

from __future__ import annotations

import numpy as np
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit import crowd, stages
from labelaudit.definition import DatasetBundle
from labelaudit.feedback import dataset_verdicts
from labelaudit.gate import GateResult
from labelaudit.scoring import ScoredBatch
from labelaudit.store import AuditStore


@task(
    name="score",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def score(
    store: AuditStore,
    run_id: str,
    batch: stages.Batch,
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    bundle: DatasetBundle,
    oof_log_loss: float | None,
) -> ScoredBatch:
    """Confident learning; with ``flag_cutoff_from_reviews`` in quality.json, flags only up to the learned cut-off."""
    verdicts = None
    if bundle.quality.flag_cutoff_from_reviews is not None:
        verdicts = dataset_verdicts(store, bundle.definition.name, exclude_run=run_id)
    scored = crowd.score(
        store, run_id, batch, labels, probs, classes, bundle, oof_log_loss=oof_log_loss, verdicts=verdicts
    )
    m = scored.run_metrics.iloc[0]
    get_run_logger().info(
        "%d of %d rows flagged; estimated label-error rate %.2f%%",
        m["flagged"],
        m["rows"],
        100 * m["estimated_error_rate"],
    )
    return scored


@task(
    name="quality-gate",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def quality_gate(store: AuditStore, run_id: str, scored: ScoredBatch, bundle: DatasetBundle) -> GateResult:
    result = stages.gate(store, run_id, scored, bundle)
    logger = get_run_logger()
    for check in result.checks:
        (logger.info if check.passed else logger.error)("gate: %s", check.describe())
    return result
