"""The token kind: one sentence per row, a tag per token (BIO/BIOES or plain).

``scores`` has one row per sentence (given and corrected tag sequences, the sentence score = its lowest token
score, ``is_issue`` when any token looks mislabeled); each flagged token is a ``label_issue_details`` row;
``class_metrics`` has one row per entity type (``B-PER`` and ``I-PER`` are ``PER``); ``oof_probs`` one row per
token (``row_idx`` = sentence, ``token_idx``).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.kinds._sequence import (
    SequenceFitInputs,
    SequenceKind,
    details_frame,
    empty_noise_matrix,
    issue_ranks,
    probability_values,
    read_probability_file,
    run_metrics,
)
from labelaudit.models.crossval import FoldPlan, FoldResult, fold_metrics
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.score import ScoredBatch

__all__ = ["TOKEN_INDEX_COLUMN", "TokenKind", "entity_type", "load_token_probabilities"]

#: The column of a token probabilities file that holds the 0-based token index.
TOKEN_INDEX_COLUMN = "token_idx"
_BIO_PREFIX = re.compile(r"^[BIESLU]-(.+)$")


def entity_type(tag: str) -> str:
    """The entity type of a BIO/BIOES tag: ``"B-PER" -> "PER"``; tags without a prefix (``"O"``) are their own."""
    match = _BIO_PREFIX.match(tag)
    return match.group(1) if match else tag


def _token_keys(frame: pd.DataFrame, id_column: str, path: str) -> pd.MultiIndex:
    """The file's (sentence id, token index) pairs; a bad or repeated index is an input error naming rows."""
    token = pd.to_numeric(frame[TOKEN_INDEX_COLUMN], errors="coerce")
    bad = np.flatnonzero((token.isna() | (token < 0) | (token % 1 != 0)).to_numpy())
    if bad.size:
        raise InputDataError(
            "token_idx must be a 0-based token index", source=path, column=TOKEN_INDEX_COLUMN, rows=(bad + 1).tolist()
        )
    keys = pd.MultiIndex.from_arrays([frame[id_column].to_numpy(), token.astype(np.int64).to_numpy()])
    duplicated = np.flatnonzero(keys.duplicated())
    if duplicated.size:
        raise InputDataError("duplicate (id, token_idx) pairs", source=path, rows=(duplicated + 1).tolist())
    return keys


def load_token_probabilities(path: str, row_ids: pd.Series, lengths: np.ndarray, classes: list[str]) -> np.ndarray:
    """Flat (T, K) per-token probabilities, in sentence order, from a file with a sentence id column, a
    ``token_idx`` column (0-based) and one column per class; every token of the batch exactly once."""
    from labelaudit.cl._engine.validation import validate_pred_probs

    frame, id_column = read_probability_file(path, classes, [TOKEN_INDEX_COLUMN])
    keys = _token_keys(frame, id_column, path)
    sentence_ids = row_ids.astype(str).to_numpy()
    wanted = pd.MultiIndex.from_arrays(
        [np.repeat(sentence_ids, lengths), np.concatenate([np.arange(n) for n in lengths])]
    )
    position = pd.Series(np.arange(len(frame)), index=keys)
    absent = ~wanted.isin(keys)
    if absent.any():
        examples = [f"{s} token {t}" for s, t in wanted[absent][:5]]
        raise InputDataError(
            f"has no probabilities for {int(absent.sum())} tokens of the batch, e.g. {examples}", source=path
        )
    if len(frame) != len(wanted):
        raise InputDataError(
            f"has {len(frame)} rows but the batch has {len(wanted)} tokens (rows for unknown sentences or tokens)",
            source=path,
        )
    values = probability_values(frame, classes, path)[position.loc[wanted].to_numpy()]
    try:
        return validate_pred_probs(values)
    except InputDataError as exc:
        raise InputDataError(f"{exc} (flat token positions, sentence by sentence)", source=path) from exc


class TokenKind(SequenceKind):
    """A tag per token, one sentence per row (:class:`labelaudit.kinds.base.LabelKind`)."""

    label_type = "token"
    unit = "sentences"
    fold_unit = "tokens"
    accuracy_unit = "token"
    issue_keys_sorted = False
    issue_count_unit = "tokens"
    issue_skips = {  # noqa: RUF012 (read only)
        "near_duplicate": "a sentence has no feature vector (its tokens are hashed per token for the model); "
        "repeated sentences are found as exact duplicates of their normalised tokens",
        "outlier": "a sentence has no feature vector (its tokens are hashed per token for the model)",
        "uncertain": "the probabilities are per token, not per sentence",
    }
    section = "tokens"
    chart_title = "Issue rate per entity type"
    chart_desc = (
        "One bar per entity type (B- and I- tags together): the share of its tokens flagged as mislabeled. "
        "A black tick marks the type's limit in the quality gate (max_class_label_error_rate); red bars "
        "breach it. The dashed line is the limit on the share of sentences with any issue."
    )

    def _parse(self, batch: Batch, definition: DatasetDefinition) -> tuple[list[list[int]], list[str], list]:
        from labelaudit.inputs.label_formats import parse_token_columns

        data = parse_token_columns(
            batch.frame[definition.tokens_column],
            batch.frame[definition.label_column],
            classes=definition.classes,
            fmt=definition.label_format,
            source=batch.source.path,
        )
        return data.labels, data.classes, data.tokens

    def _targets_and_plan(
        self,
        labels: list[list[int]],
        classes: list[str],
        tokens: list,
        definition: DatasetDefinition,
        *,
        precomputed: bool,
    ) -> tuple[np.ndarray, FoldPlan | None, sp.csr_matrix | None]:
        from labelaudit.models.sequence_fitting import plan_token_folds, token_features

        targets = np.fromiter((k for row in labels for k in row), dtype=np.int64)
        if len(np.unique(targets)) < 2:
            raise FittingError(f"every token has the class {classes[int(targets[0])]!r}; two are needed")
        if precomputed:
            return targets, None, None
        lengths = np.array([len(row) for row in labels])
        plan = plan_token_folds(lengths, folds=definition.folds, seed=definition.seed)
        return targets, plan, token_features(tokens, window=definition.context_window)

    def fit_fold(
        self, inputs: SequenceFitInputs, fold: int, frame: pd.DataFrame, definition: DatasetDefinition
    ) -> FoldResult:
        """Hashed context features of each token (the frame is not read: the features were built once)."""
        from labelaudit.models.sequence_fitting import fit_token_fold

        if inputs.plan is None:
            raise FittingError("internal error: no fold plan (probabilities were precomputed)")
        return fit_token_fold(inputs.features, inputs.targets, len(inputs.classes), inputs.plan, fold)

    def _metrics(self, inputs: SequenceFitInputs, results: list[FoldResult], probs: np.ndarray) -> pd.DataFrame:
        return fold_metrics(results, probs, inputs.targets)

    def _layout(self, inputs: SequenceFitInputs, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = inputs.lengths
        row_idx = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        token_idx = np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return row_idx, token_idx, np.bincount(inputs.targets, minlength=len(inputs.classes))

    def _read_probabilities(self, path: str, batch: Batch, inputs: SequenceFitInputs) -> np.ndarray:
        return load_token_probabilities(path, batch.row_ids, inputs.lengths, inputs.classes)

    def _score_frames(
        self,
        inputs: SequenceFitInputs,
        probs: np.ndarray,
        row_ids: np.ndarray,
        definition: DatasetDefinition,
        log_loss: float | None,
    ) -> tuple[ScoredBatch, pd.DataFrame, str]:
        from labelaudit.cl.token_classification import audit_tokens

        per_sentence = np.split(probs, np.cumsum(inputs.lengths)[:-1])
        audit = audit_tokens(
            inputs.labels,
            per_sentence,
            tokens=inputs.tokens,
            class_names=inputs.classes,
            filter_by=definition.filter_by,
        )
        scores = _scores(inputs, audit, probs, row_ids)
        details = _details(audit, probs, row_ids)
        class_metrics = _entity_type_metrics(inputs, audit)
        flat, mask = inputs.targets, audit.token_issue_mask
        accuracy = float((audit.predicted == flat).mean())
        s = len(inputs.labels)
        metrics = run_metrics(
            s, len(inputs.classes), audit.sentence_has_issue, accuracy, log_loss, definition.filter_by
        )
        message = f"{int(audit.sentence_has_issue.sum())} sentences flagged ({int(mask.sum())} tokens)"
        return ScoredBatch(scores, empty_noise_matrix(), class_metrics, metrics), details, message


def _scores(inputs: SequenceFitInputs, audit, probs: np.ndarray, row_ids: np.ndarray) -> pd.DataFrame:
    """One ``scores`` row per sentence: given and corrected tag sequences, scored by the weakest token."""
    names = np.asarray(inputs.classes, dtype=object)
    flat, lengths, offsets = inputs.targets, inputs.lengths, audit.offsets
    corrected = np.where(audit.token_issue_mask, audit.predicted, flat)
    # the sentence's weakest token: where its score comes from, and where the suggestion's probability is read
    sentence_of = np.repeat(np.arange(len(lengths)), lengths)
    worst = np.lexsort((audit.token_scores, sentence_of))[offsets[:-1]]
    quality = np.asarray(audit.sentence_scores, dtype=np.float64)
    return pd.DataFrame(
        {
            "row_idx": np.arange(len(lengths), dtype=np.int64),
            "row_id": row_ids,
            "given_label": [" ".join(names[flat[a:b]]) for a, b in itertools.pairwise(offsets)],
            "suggested_label": [" ".join(names[corrected[a:b]]) for a, b in itertools.pairwise(offsets)],
            "suggested_prob": probs[worst, corrected[worst]].astype(np.float64),
            "label_quality": quality,
            "is_issue": audit.sentence_has_issue,
            "issue_rank": issue_ranks(quality, audit.sentence_has_issue),
        }
    )


def _details(audit, probs: np.ndarray, row_ids: np.ndarray) -> pd.DataFrame:
    """One ``label_issue_details`` row per flagged token (``mislabeled``)."""
    table = audit.issue_tokens
    sentence = table["sentence"].to_numpy(dtype=np.int64)
    token = table["token"].to_numpy(dtype=np.int64)
    position = audit.offsets[sentence] + token
    return details_frame(
        pd.DataFrame(
            {
                "row_idx": sentence,
                "position": token.astype(np.int32),
                "item": table["text"].astype(str).to_numpy(),
                "kind": "mislabeled",
                "given": table["given"].astype(str).to_numpy(),
                "suggested": table["predicted"].astype(str).to_numpy(),
                "score": table["score"].to_numpy(dtype=np.float64),
                "suggested_prob": probs[position, audit.predicted[position]].astype(np.float64),
            }
        ),
        row_ids,
    )


def _entity_type_metrics(inputs: SequenceFitInputs, audit) -> pd.DataFrame:
    """``class_metrics`` per entity type: its tokens, the flagged share, the out-of-fold accuracy."""
    flat, mask = inputs.targets, audit.token_issue_mask
    types = np.asarray([entity_type(c) for c in inputs.classes], dtype=object)
    type_names = list(dict.fromkeys(types))
    type_of = pd.Categorical(types[flat], categories=type_names).codes
    count = np.bincount(type_of, minlength=len(type_names))
    flagged = np.bincount(type_of[mask], minlength=len(type_names))
    right = np.bincount(type_of[audit.predicted == flat], minlength=len(type_names))
    rate = flagged / np.maximum(count, 1)
    return pd.DataFrame(
        {
            "label": type_names,
            "given_count": count.astype(np.int64),
            "flagged": flagged.astype(np.int64),
            "estimated_error_rate": rate,
            "flagged_rate": rate,
            "oof_accuracy": np.where(count > 0, right / np.maximum(count, 1), np.nan),
        }
    )
