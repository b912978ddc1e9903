"""The fit and score stages for multi-label and token (sequence) batches, as plain functions.

The audit flow is the same for every label type (``label_type`` in ``dataset.json``); only fitting and
scoring differ, and they live in the label kinds (:mod:`labelaudit.kinds.multilabel`,
:mod:`labelaudit.kinds.token`). This module keeps the functions of the public API over those kinds. Each
function records its stage like :mod:`labelaudit.pipeline.stages` (a failure is stored and re-raised) and writes the
same tables, with the same meaning per *row*:

- multi-label (one row, zero or more tags): ``scores`` has one row per batch row (given and suggested tag sets,
  the aggregated label-quality score, ``is_issue`` when any tag annotation looks wrong); the flagged
  ``(row, tag)`` cells (``missing`` / ``extra``) are ``label_issue_details``; ``class_metrics`` has one row per
  tag; ``oof_probs`` one row per row with independent per-tag probabilities.
- token (one sentence per row, a tag per token): ``scores`` has one row per sentence (given and corrected tag
  sequences, the sentence score = its lowest token score, ``is_issue`` when any token looks mislabeled); each
  flagged token is a ``label_issue_details`` row; ``class_metrics`` has one row per entity type (``B-PER`` and
  ``I-PER`` are ``PER``); ``oof_probs`` one row per token (``row_idx`` = sentence, ``token_idx``).

Rates (what the gate reads): ``run_metrics.estimated_error_rate`` is the share of rows (multi-label) or
sentences (token) with at least one flagged annotation; per class it is the share of rows whose annotation of
that tag is flagged (multi-label) or the share of the entity type's tokens that are flagged (token). With
``prune_by_noise_rate`` (the default) confident learning flags as many annotations per class as it estimates
are wrong, so these flagged shares are its estimates of the error rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition
from labelaudit.kinds import KINDS
from labelaudit.kinds._sequence import SequenceFitInputs, SequenceKind, refuse_annotations
from labelaudit.kinds.multilabel import load_multilabel_probabilities
from labelaudit.kinds.token import TOKEN_INDEX_COLUMN, entity_type, load_token_probabilities
from labelaudit.models.crossval import FoldResult
from labelaudit.pipeline.scoring import ScoredBatch
from labelaudit.pipeline.stages import Batch
from labelaudit.store import AuditStore

__all__ = [
    "SEQUENCE_TYPES",
    "TOKEN_INDEX_COLUMN",
    "SequenceFitInputs",
    "entity_type",
    "fit_fold",
    "load_multilabel_probabilities",
    "load_token_probabilities",
    "prepare_fit",
    "refuse_annotations",
    "score",
    "store_fit",
    "use_precomputed",
]

#: The label types served by a sequence kind (multi-label, token).
SEQUENCE_TYPES = tuple(name for name, kind in KINDS.items() if isinstance(kind, SequenceKind))


def _kind(label_type: str) -> SequenceKind:
    kind = KINDS.get(label_type)
    if not isinstance(kind, SequenceKind):
        raise ValueError(f"not a multi-label or token dataset: label_type {label_type!r}")
    return kind


def prepare_fit(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool
) -> SequenceFitInputs:
    """Parse the label (and tokens) column and plan the folds; bad formats fail the fit stage naming rows."""
    kind = _kind(bundle.definition.label_type)
    return kind.prepare_fit(store, run_id, batch, bundle, precomputed=precomputed)


def fit_fold(inputs: SequenceFitInputs, fold: int, frame: pd.DataFrame, definition: DatasetDefinition) -> FoldResult:
    """Fit one fold: one-vs-rest on the definition's features (multi-label), or hashed token features (token)."""
    return _kind(inputs.label_type).fit_fold(inputs, fold, frame, definition)


def store_fit(
    store: AuditStore, run_id: str, inputs: SequenceFitInputs, results: list[FoldResult]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Assemble the folds' out-of-fold probabilities ((N, K) or flat (T, K)) and store them with fold metrics."""
    return _kind(inputs.label_type).store_fit(store, run_id, inputs, results)


def use_precomputed(
    store: AuditStore, run_id: str, path: str, batch: Batch, inputs: SequenceFitInputs
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model for multi-label and token batches (file layouts: README, "Bring your own")."""
    return _kind(inputs.label_type).load_probabilities(store, run_id, path, batch, inputs)


def score(
    store: AuditStore,
    run_id: str,
    batch: Batch,
    inputs: SequenceFitInputs,
    probs: np.ndarray,
    bundle: DatasetBundle,
    *,
    oof_log_loss: float | None = None,
) -> ScoredBatch:
    """Confident learning per tag (multi-label) or per token (token); store scores, details and rates."""
    return _kind(inputs.label_type).score(store, run_id, batch, inputs, probs, bundle, oof_log_loss=oof_log_loss)
