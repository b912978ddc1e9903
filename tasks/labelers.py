"""Tasks of the labels the audit fits (annotations, review corrections) and of the labeler profiles."""

from __future__ import annotations

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit import crowd, stages, stages_sequences
from labelaudit.definition import DatasetBundle
from labelaudit.feedback import dataset_verdicts
from labelaudit.labelers import LabelerProfiles
from labelaudit.scoring import ScoredBatch
from labelaudit.store import AuditStore
from tasks.policy import RETRY_DELAYS, retry_infrastructure_errors

_RETRY = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": retry_infrastructure_errors,
}


@task(name="prepare-labels", **_RETRY)
def prepare_labels(
    store: AuditStore, run_id: str, batch: stages.Batch, bundle: DatasetBundle, annotations: str | None
) -> crowd.LabelInputs:
    """Majority vote of the annotations and confirmed review corrections become the labels to fit."""
    if bundle.definition.label_type in stages_sequences.SEQUENCE_TYPES:  # multi-label / token: the file's labels
        stages_sequences.refuse_annotations(store, run_id, bundle, annotations)
        return crowd.LabelInputs(batch, bundle)
    verdicts = dataset_verdicts(store, bundle.definition.name)
    inputs = crowd.prepare_labels(store, run_id, batch, bundle, annotations, verdicts)
    if inputs.message:
        get_run_logger().info("labels: %s", inputs.message)
    return inputs


@task(name="score-with-reviews", **_RETRY)
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
    """Confident learning, with the flags restricted to the review cut-off when quality.json asks for it."""
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


@task(name="profile-labelers", **_RETRY)
def profile_labelers(
    store: AuditStore, run_id: str, inputs: crowd.LabelInputs, probs: np.ndarray, classes: list[str]
) -> LabelerProfiles | None:
    """CROWDLAB consensus, annotator quality, profiles and routing (runs with annotations only)."""
    profiles = crowd.profile(store, run_id, inputs, probs, classes)
    if profiles is not None:
        best = profiles.annotators.iloc[0]
        get_run_logger().info(
            "%d annotators profiled; best %s (CROWDLAB quality %.3f)",
            len(profiles.annotators),
            best["annotator"],
            best["crowdlab_quality"],
        )
    return profiles
