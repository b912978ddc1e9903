"""Tasks of multi-label and token batches: one fit task per fold (parallel, cached) and the scoring task.

Planning, storing the fit and loading precomputed probabilities go through the multiclass tasks of
``tasks/fit.py``, which hand multi-label and token batches to :mod:`labelaudit.stages_sequences`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from labelaudit.tasks.fit import FOLD_CACHE_EXPIRATION
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelaudit import stages, stages_sequences
from labelaudit.crossval import FoldResult
from labelaudit.definition import DatasetBundle, DatasetDefinition
from labelaudit.scoring import ScoredBatch
from labelaudit.store import AuditStore
from labelaudit.store.database import code_version


def sequence_fold_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of one fold: the batch's content hash, the targets, the fold plan, the definition, the fold."""
    inputs: stages_sequences.SequenceFitInputs = parameters["inputs"]
    digest = hashlib.sha256()
    digest.update(f"{parameters['batch_sha256']}:{inputs.label_type}".encode())
    digest.update(np.ascontiguousarray(inputs.targets).tobytes())
    for rows in inputs.plan.test_rows:
        digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
        digest.update(b"|")
    digest.update(parameters["definition"].model_dump_json().encode())
    digest.update(f"{len(inputs.classes)}:{parameters['fold']}:{code_version()}".encode())
    return f"fit-sequence-fold-{digest.hexdigest()}"


@task(
    name="fit-sequence-fold",
    task_run_name="fit-sequence-fold-{fold}",
    cache_key_fn=sequence_fold_cache_key,
    cache_expiration=FOLD_CACHE_EXPIRATION,
    persist_result=True,
)
def fit_sequence_fold(
    inputs: stages_sequences.SequenceFitInputs,
    fold: int,
    frame: pd.DataFrame,
    definition: DatasetDefinition,
    batch_sha256: str,
) -> FoldResult:
    """Fit one fold of a multi-label (one-vs-rest) or token (hashed context features) batch."""
    result = stages_sequences.fit_fold(inputs, fold, frame, definition)
    unit = "rows" if inputs.label_type == "multilabel" else "tokens"
    get_run_logger().info(
        "fold %d/%d: %d held-out %s predicted in %.2f s",
        fold + 1,
        inputs.plan.n_folds,
        len(result.test_rows),
        unit,
        result.seconds,
    )
    return result


@task(
    name="score-sequences",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def score_sequences(
    store: AuditStore,
    run_id: str,
    batch: stages.Batch,
    inputs: stages_sequences.SequenceFitInputs,
    probs: np.ndarray,
    bundle: DatasetBundle,
    oof_log_loss: float | None,
) -> ScoredBatch:
    scored = stages_sequences.score(store, run_id, batch, inputs, probs, bundle, oof_log_loss=oof_log_loss)
    m = scored.run_metrics.iloc[0]
    unit = "rows" if inputs.label_type == "multilabel" else "sentences"
    get_run_logger().info(
        "%d of %d %s have a flagged annotation (%.2f%%)", m["flagged"], m["rows"], unit, 100 * m["flagged_rate"]
    )
    return scored
