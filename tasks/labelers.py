"""Tasks of the labels the audit fits (annotations, review corrections) and of the labeler profiles."""

from __future__ import annotations

import numpy as np
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.kinds import kind_for
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.labeler_profiles import LabelerProfiles
from labelaudit.pipeline.labelers import profile_run_labelers
from labelaudit.pipeline.labels import LabelInputs
from labelaudit.store import AuditStore

_RETRY = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": retry_infrastructure_errors,
}


@task(name="prepare-labels", **_RETRY)
def prepare_labels(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, annotations: str | None
) -> LabelInputs:
    """The labels to fit, as the kind settles them: multiclass takes the majority vote of the annotations and
    confirmed review corrections; multi-label and token keep the file's labels and refuse annotations."""
    inputs = kind_for(bundle.definition.label_type).prepare_labels(store, run_id, batch, bundle, annotations)
    if inputs.message:
        get_run_logger().info("labels: %s", inputs.message)
    return inputs


@task(name="profile-labelers", **_RETRY)
def profile_labelers(
    store: AuditStore, run_id: str, inputs: LabelInputs, probs: np.ndarray, classes: list[str]
) -> LabelerProfiles | None:
    """CROWDLAB consensus, annotator quality, profiles and routing (runs with annotations only)."""
    profiles = profile_run_labelers(store, run_id, inputs, probs, classes)
    if profiles is not None:
        best = profiles.annotators.iloc[0]
        get_run_logger().info(
            "%d annotators profiled; best %s (CROWDLAB quality %.3f)",
            len(profiles.annotators),
            best["annotator"],
            best["crowdlab_quality"],
        )
    return profiles
