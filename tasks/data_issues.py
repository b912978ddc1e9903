"""Task of the data issues beyond labels: duplicates, leakage, near duplicates, outliers, drift, imbalance."""

from __future__ import annotations

import numpy as np
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.kinds import FitInputsLike, kind_for
from labelaudit.pipeline.data_issues import DataIssues, find_data_issues
from labelaudit.pipeline.ingest import Batch
from labelaudit.store import AuditStore


@task(
    name="data-issues",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def find_issues(
    store: AuditStore, run_id: str, batch: Batch, inputs: FitInputsLike, probs: np.ndarray, bundle: DatasetBundle
) -> DataIssues:
    """Every data-issue detector that applies to the kind's labels; the findings stored before the gate reads
    them (stage ``data_issues``)."""
    labels = kind_for(bundle.definition.label_type).issue_labels(inputs)
    issues = find_data_issues(store, run_id, batch, bundle, labels, probs)
    get_run_logger().info("%s", issues.message())
    return issues
