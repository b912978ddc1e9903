"""Cross-validated fitting tasks: one task per fold, so folds run in parallel on the flow's task runner.

Every label kind goes through the same tasks: each asks the kind of the dataset's ``label_type``
(:func:`labelaudit.kinds.kind_for`) what to do, and none branches on the kind.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from labelaudit.tasks.policy import RETRY_DELAYS, retry_infrastructure_errors
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from threadpoolctl import threadpool_limits

from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition
from labelaudit.kinds import FitInputsLike, kind_for
from labelaudit.models.crossval import FoldResult
from labelaudit.pipeline.ingest import Batch
from labelaudit.store import AuditStore
from labelaudit.store.database import code_version
from labelaudit.store.queries import model_candidates

#: Definition fields that fitting never reads (scoring does): changing them must not refit the folds.
NOT_READ_BY_FITTING = frozenset({"flag_rule", "neighbours", "filter_by"})

#: How long a fitted fold stays reusable; after that a re-run refits.
FOLD_CACHE_EXPIRATION = timedelta(days=7)


def fold_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of one fold: the batch's content hash, what the folds fit, the fold plan, the definition, the fold.

    The frame itself is not hashed (slow for large batches): the batch's sha256 stands for it. The code
    version is included so an upgrade of labelaudit refits.
    """
    definition: DatasetDefinition = parameters["definition"]
    inputs: FitInputsLike = parameters["inputs"]
    kind = kind_for(definition.label_type)
    digest = hashlib.sha256()
    digest.update(f"{parameters['batch_sha256']}:{kind.label_type}".encode())
    digest.update(kind.fold_fingerprint(inputs))
    for rows in inputs.plan.test_rows:
        digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
        digest.update(b"|")
    digest.update(definition.model_dump_json(exclude=set(NOT_READ_BY_FITTING)).encode())
    digest.update(_embedding_digest(parameters["frame"], definition))
    digest.update(f"{len(inputs.classes)}:{parameters['fold']}:{code_version()}".encode())
    return f"{kind.fold_run_prefix}-{digest.hexdigest()}"


def _embedding_digest(frame: pd.DataFrame, definition: DatasetDefinition) -> bytes:
    """The vectors of file-based embedding blocks: not in the batch file its sha256 covers, so hashed here
    (as joined by id: new bytes that change a vector refit; the same vectors in another order do not)."""
    from labelaudit.inputs.definition import Role

    digest = hashlib.sha256()
    available = [str(c) for c in frame.columns]
    for feature in definition.features:
        if feature.role == Role.embedding and feature.file:
            block = frame[feature.column_names(available)]
            digest.update(pd.util.hash_pandas_object(block, index=False).to_numpy().tobytes())
    return digest.digest()


def fold_threads(n_folds: int) -> int:
    """BLAS/OpenMP threads one fold may use while the folds run side by side: the CPUs shared out, at least
    one (gradient boosting would otherwise start a thread per CPU in every fold)."""
    return max(1, (os.cpu_count() or 1) // max(1, n_folds))


def fold_run_name(parameters: dict[str, Any]) -> str:
    """``fit-fold-<k>`` (multiclass) or ``fit-sequence-fold-<k>`` (multi-label, token): the kind names it."""
    return f"{kind_for(parameters['definition'].label_type).fold_run_prefix}-{parameters['fold']}"


@task(
    name="fit-fold",
    task_run_name=fold_run_name,
    cache_key_fn=fold_cache_key,
    cache_expiration=FOLD_CACHE_EXPIRATION,
    persist_result=True,
)
def fit_one_fold(
    inputs: FitInputsLike,
    fold: int,
    frame: pd.DataFrame,
    definition: DatasetDefinition,
    batch_sha256: str,
) -> FoldResult:
    """Fit one fold; cached on ``fold_cache_key``, so a retried or re-run audit of the same batch does not refit."""
    kind = kind_for(definition.label_type)
    with threadpool_limits(limits=fold_threads(inputs.plan.n_folds)):
        result = kind.fit_fold(inputs, fold, frame, definition)
    get_run_logger().info(
        "fold %d/%d: %d held-out %s predicted in %.2f s",
        fold + 1,
        inputs.plan.n_folds,
        len(result.test_rows),
        kind.fold_unit,
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
    store: AuditStore, run_id: str, bundle: DatasetBundle, inputs: FitInputsLike, results: list[FoldResult]
) -> tuple[np.ndarray, pd.DataFrame]:
    probs, metrics = kind_for(bundle.definition.label_type).store_fit(store, run_id, inputs, results)
    overall = metrics[metrics["fold"].isna()].iloc[0]
    logger = get_run_logger()
    logger.info("out-of-fold accuracy %.4f, log-loss %.4f", overall["accuracy"], overall["log_loss"])
    candidates = model_candidates(store, run_id)
    if candidates:
        fitted = [c for c in candidates if c["brier"] is not None]
        figures = ", ".join(f"{c['name']} accuracy {c['accuracy']:.4f} log-loss {c['log_loss']:.4f}" for c in fitted)
        chosen = next(c["name"] for c in candidates if c["chosen"])
        logger.info("classifier auto chose %s by %s (%s)", chosen, candidates[0]["criterion"], figures)
    return probs, metrics


@task(
    name="load-probabilities",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_infrastructure_errors,
)
def load_probabilities(
    store: AuditStore, run_id: str, path: str, batch: Batch, bundle: DatasetBundle, inputs: FitInputsLike
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model: the probabilities come from a file and fitting is skipped."""
    probs, metrics = kind_for(bundle.definition.label_type).load_probabilities(store, run_id, path, batch, inputs)
    get_run_logger().info("using precomputed probabilities from %s", path)
    return probs, metrics


@task(name="plan-folds", cache_policy=NO_CACHE)
def plan_fit(store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, precomputed: bool) -> FitInputsLike:
    """Encode the labels and plan the folds; a batch that cannot be cross-validated stops here."""
    kind = kind_for(bundle.definition.label_type)
    inputs = kind.prepare_fit(store, run_id, batch, bundle, precomputed=precomputed)
    if inputs.plan is not None:
        get_run_logger().info("%s", kind.plan_message(inputs, bundle.definition.seed))
    return inputs
