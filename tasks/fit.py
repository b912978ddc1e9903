"""Cross-validated fitting tasks: one task per fold, so folds run in parallel on the flow's task runner."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit import stages, stages_sequences
from labelaudit.crossval import FoldPlan, FoldResult, fit_fold
from labelaudit.definition import DatasetBundle, DatasetDefinition
from labelaudit.store import AuditStore
from labelaudit.store.database import code_version

#: How long a fitted fold stays reusable; after that a re-run refits.
FOLD_CACHE_EXPIRATION = timedelta(days=7)


def fold_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of one fold: the batch's content hash, the labels, the fold plan, the definition, the fold.

    The frame itself is not hashed (slow for large batches): the batch's sha256 stands for it. The code
    version is included so an upgrade of labelaudit refits.
    """
    plan: FoldPlan = parameters["plan"]
    digest = hashlib.sha256()
    digest.update(parameters["batch_sha256"].encode())
    digest.update(np.ascontiguousarray(parameters["labels"]).tobytes())
    for rows in plan.test_rows:
        digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
        digest.update(b"|")
    digest.update(parameters["definition"].model_dump_json().encode())
    digest.update(f"{parameters['n_classes']}:{parameters['fold']}:{code_version()}".encode())
    return f"fit-fold-{digest.hexdigest()}"


@task(
    name="fit-fold",
    task_run_name="fit-fold-{fold}",
    cache_key_fn=fold_cache_key,
    cache_expiration=FOLD_CACHE_EXPIRATION,
    persist_result=True,
)
def fit_one_fold(
    frame: pd.DataFrame,
    labels: np.ndarray,
    n_classes: int,
    plan: FoldPlan,
    fold: int,
    definition: DatasetDefinition,
    batch_sha256: str,
) -> FoldResult:
    """Fit one fold; cached on ``fold_cache_key``, so a retried or re-run audit of the same batch does not refit."""
    result = fit_fold(frame, labels, n_classes, plan, fold, definition)
    get_run_logger().info(
        "fold %d/%d: %d held-out rows predicted in %.2f s",
        fold + 1,
        plan.n_folds,
        len(result.test_rows),
        result.seconds,
    )
    return result


@task(
    name="store-fit",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def store_fit(
    store: AuditStore,
    run_id: str,
    inputs: stages.FitInputs | stages_sequences.SequenceFitInputs,
    results: list[FoldResult],
) -> tuple[np.ndarray, pd.DataFrame]:
    if isinstance(inputs, stages_sequences.SequenceFitInputs):  # multi-label or token labels
        probs, metrics = stages_sequences.store_fit(store, run_id, inputs, results)
    else:
        probs, metrics = stages.store_fit(store, run_id, inputs.started, results, inputs.labels, inputs.classes)
    overall = metrics[metrics["fold"].isna()].iloc[0]
    get_run_logger().info("out-of-fold accuracy %.4f, log-loss %.4f", overall["accuracy"], overall["log_loss"])
    return probs, metrics


@task(
    name="load-probabilities",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def load_probabilities(
    store: AuditStore,
    run_id: str,
    path: str,
    batch: stages.Batch,
    inputs: stages.FitInputs | stages_sequences.SequenceFitInputs,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model: the probabilities come from a file and fitting is skipped."""
    if isinstance(inputs, stages_sequences.SequenceFitInputs):  # multi-label or token labels
        probs, metrics = stages_sequences.use_precomputed(store, run_id, path, batch, inputs)
    else:
        probs, metrics = stages.use_precomputed(
            store, run_id, path, batch, inputs.labels, inputs.classes, inputs.started
        )
    get_run_logger().info("using precomputed probabilities from %s", path)
    return probs, metrics


@task(name="plan-folds", cache_policy=NO_CACHE)
def plan_fit(
    store: AuditStore, run_id: str, batch: stages.Batch, bundle: DatasetBundle, precomputed: bool
) -> stages.FitInputs | stages_sequences.SequenceFitInputs:
    """Encode the labels and plan stratified folds; a batch that cannot be cross-validated stops here.

    Multi-label and token batches (``label_type``) get :class:`~labelaudit.stages_sequences.SequenceFitInputs`.
    """
    if bundle.definition.label_type in stages_sequences.SEQUENCE_TYPES:
        inputs = stages_sequences.prepare_fit(store, run_id, batch, bundle, precomputed=precomputed)
        if inputs.plan is not None:
            get_run_logger().info(
                "%s labels, %d classes, %d folds (seed %d)",
                inputs.label_type,
                len(inputs.classes),
                inputs.plan.n_folds,
                bundle.definition.seed,
            )
        return inputs
    inputs = stages.prepare_fit(store, run_id, batch, bundle, precomputed=precomputed)
    if inputs.plan is not None:
        get_run_logger().info(
            "%d classes, %d stratified folds (seed %d)",
            len(inputs.classes),
            inputs.plan.n_folds,
            bundle.definition.seed,
        )
    return inputs
