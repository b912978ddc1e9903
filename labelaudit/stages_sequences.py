"""The fit and score stages for multi-label and token (sequence) batches, as plain functions.

The audit flow is the same for every label type (``label_type`` in ``dataset.json``); only fitting and
scoring differ, and they are here. Each function records its stage like :mod:`labelaudit.stages` (a failure is
stored and re-raised) and writes the same tables, with the same meaning per *row*:

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

import itertools
import re
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelaudit.crossval import FoldPlan, FoldResult, assemble, fold_metrics
from labelaudit.definition import DatasetBundle, DatasetDefinition
from labelaudit.errors import DefinitionError, FittingError, InputDataError
from labelaudit.scoring import ScoredBatch
from labelaudit.stages import Batch, recording
from labelaudit.store import AuditStore, StageWrite

__all__ = [
    "SEQUENCE_TYPES",
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

SEQUENCE_TYPES = ("multilabel", "token")
#: The column of a token probabilities file that holds the 0-based token index.
TOKEN_INDEX_COLUMN = "token_idx"
_BIO_PREFIX = re.compile(r"^[BIESLU]-(.+)$")


def entity_type(tag: str) -> str:
    """The entity type of a BIO/BIOES tag: ``"B-PER" -> "PER"``; tags without a prefix (``"O"``) are their own."""
    match = _BIO_PREFIX.match(tag)
    return match.group(1) if match else tag


@dataclass(frozen=True)
class SequenceFitInputs:
    """What fitting (or loading precomputed probabilities) starts from, for multi-label or token batches.

    ``labels`` are the given class indices per row (multi-label: the row's tags) or per sentence (token: one
    per token); ``targets`` is what the folds fit: the (N, K) indicator matrix (multi-label) or the flat (T,)
    token classes (token). ``features`` are the hashed token features (token batches that are fitted).
    """

    label_type: str
    labels: list[list[int]]
    classes: list[str]
    targets: np.ndarray
    plan: FoldPlan | None
    started: datetime
    tokens: list[list[str]] | None = None
    features: sp.csr_matrix | None = None

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per sentence (token batches)."""
        return np.fromiter((len(row) for row in self.labels), dtype=np.int64, count=len(self.labels))

    @property
    def n_items(self) -> int:
        """Rows of the probability matrix: batch rows (multi-label) or tokens (token)."""
        return len(self.targets)


def refuse_annotations(store: AuditStore, run_id: str, bundle: DatasetBundle, annotations: str | None) -> None:
    """``--annotations`` (majority vote, CROWDLAB) is for multiclass datasets; refused at stage ``labels``."""
    if annotations is None:
        return
    with recording(store, run_id, "labels"):
        raise DefinitionError(
            f"--annotations is supported for multiclass datasets only; dataset {bundle.definition.name!r} has "
            f"label_type {bundle.definition.label_type!r}"
        )


def _parse(batch: Batch, definition: DatasetDefinition) -> tuple[list[list[int]], list[str], list[list[str]] | None]:
    from labelaudit.label_formats import parse_multilabel_column, parse_token_columns

    frame, source = batch.frame, batch.source.path
    if definition.label_type == "multilabel":
        labels, classes = parse_multilabel_column(
            frame[definition.label_column],
            classes=definition.classes,
            fmt=definition.label_format,
            separator=definition.label_separator,
            source=source,
        )
        return labels, classes, None
    data = parse_token_columns(
        frame[definition.tokens_column],
        frame[definition.label_column],
        classes=definition.classes,
        fmt=definition.label_format,
        source=source,
    )
    return data.labels, data.classes, data.tokens


def prepare_fit(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool
) -> SequenceFitInputs:
    """Parse the label (and tokens) column and plan the folds; bad formats fail the fit stage naming rows."""
    from labelaudit.label_formats import multilabel_indicator
    from labelaudit.sequence_fitting import plan_multilabel_folds, plan_token_folds, token_features

    definition = bundle.definition
    if definition.label_type not in SEQUENCE_TYPES:
        raise ValueError(f"not a multi-label or token dataset: label_type {definition.label_type!r}")
    with recording(store, run_id, "fit") as started:
        labels, classes, tokens = _parse(batch, definition)
        if len(classes) < 2:
            raise FittingError(f"the batch uses {len(classes)} class(es) {classes}; at least two are needed")
        plan, features = None, None
        if definition.label_type == "multilabel":
            targets = multilabel_indicator(labels, len(labels), len(classes))
            if not precomputed and not definition.features:
                raise FittingError(
                    f"dataset {definition.name!r} declares no feature columns to fit the tags on; add features to "
                    "dataset.json or supply precomputed probabilities (--probabilities)"
                )
            if not precomputed:
                plan = plan_multilabel_folds(targets, folds=definition.folds, seed=definition.seed)
        else:
            targets = np.fromiter((k for row in labels for k in row), dtype=np.int64)
            if len(np.unique(targets)) < 2:
                raise FittingError(f"every token has the class {classes[int(targets[0])]!r}; two are needed")
            if not precomputed:
                lengths = np.array([len(row) for row in labels])
                plan = plan_token_folds(lengths, folds=definition.folds, seed=definition.seed)
                features = token_features(tokens, window=definition.context_window)
    return SequenceFitInputs(definition.label_type, labels, classes, targets, plan, started, tokens, features)


def fit_fold(inputs: SequenceFitInputs, fold: int, frame: pd.DataFrame, definition: DatasetDefinition) -> FoldResult:
    """Fit one fold: one-vs-rest on the definition's features (multi-label), or hashed token features (token)."""
    from labelaudit.sequence_fitting import fit_multilabel_fold, fit_token_fold

    if inputs.plan is None:
        raise FittingError("internal error: no fold plan (probabilities were precomputed)")
    if inputs.label_type == "multilabel":
        return fit_multilabel_fold(frame, inputs.targets, inputs.plan, fold, definition)
    return fit_token_fold(inputs.features, inputs.targets, len(inputs.classes), inputs.plan, fold)


def _metrics(inputs: SequenceFitInputs, results: list[FoldResult], probs: np.ndarray) -> pd.DataFrame:
    from labelaudit.sequence_fitting import multilabel_fold_metrics

    if inputs.label_type == "multilabel":
        return multilabel_fold_metrics(results, probs, inputs.targets)
    return fold_metrics(results, probs, inputs.targets)


def store_fit(
    store: AuditStore, run_id: str, inputs: SequenceFitInputs, results: list[FoldResult]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Assemble the folds' out-of-fold probabilities ((N, K) or flat (T, K)) and store them with fold metrics."""
    with recording(store, run_id, "fit"):
        probs, fold_of = assemble(results, inputs.n_items, len(inputs.classes))
        metrics = _metrics(inputs, results, probs)
        overall = metrics[metrics["fold"].isna()].iloc[0]
        unit = "cell" if inputs.label_type == "multilabel" else "token"
        message = f"{len(results)} folds, out-of-fold {unit} accuracy {overall['accuracy']:.4f}"
        _write_probs(store, run_id, inputs, probs, fold_of, metrics, message)
    return probs, metrics


def _write_probs(
    store: AuditStore,
    run_id: str,
    inputs: SequenceFitInputs,
    probs: np.ndarray,
    fold_of: np.ndarray | None,
    metrics: pd.DataFrame,
    message: str,
) -> None:
    import pyarrow as pa

    n, k = probs.shape
    if inputs.label_type == "token":
        lengths = inputs.lengths
        row_idx = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        token_idx = pa.array(
            np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths), pa.int32()
        )
        given = np.bincount(inputs.targets, minlength=k)
    else:
        row_idx = np.arange(n, dtype=np.int64)
        token_idx = pa.nulls(n, pa.int32())
        given = inputs.targets.sum(axis=0)
    prob_table = pa.table(
        {
            "row_idx": pa.array(row_idx),
            "fold": pa.array(fold_of, type=pa.int32()) if fold_of is not None else pa.nulls(n, pa.int32()),
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), k),
            "token_idx": token_idx,
        }
    )
    class_frame = pd.DataFrame(
        {"class_idx": np.arange(k, dtype=np.int32), "label": inputs.classes, "given_count": given.astype(np.int64)}
    )
    tables = {"classes": class_frame, "fold_metrics": metrics, "oof_probs": prob_table}
    rows = len(inputs.labels)
    store.write_stage(run_id, "fit", StageWrite(tables, inputs.started, rows=rows, message=message))


# -- bring your own probabilities ---------------------------------------------------------------------------------


def _read_probability_file(path: str, classes: list[str], keys: list[str]) -> tuple[pd.DataFrame, str]:
    """The file and the name of its id column: the one column that is neither a class nor one of ``keys``."""
    from labelaudit.ingest import read_batch

    frame, _ = read_batch(path)
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in classes if c not in frame.columns]
    others = [c for c in frame.columns if c not in classes and c not in keys]
    absent_keys = [c for c in keys if c not in frame.columns]
    if len(others) != 1 or missing or absent_keys:
        wanted = ["<id>", *keys, *classes]
        raise InputDataError(
            f"expected the columns {wanted} (an id column, then one column per class); found {list(frame.columns)}",
            source=path,
        )
    frame[others[0]] = frame[others[0]].astype("str")
    return frame, others[0]


def _values(frame: pd.DataFrame, classes: list[str], path: str) -> np.ndarray:
    try:
        return frame[classes].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"probability columns must be numeric ({exc})", source=path) from exc


def load_multilabel_probabilities(path: str, row_ids: pd.Series, classes: list[str]) -> np.ndarray:
    """(N, K) independent per-class probabilities from a file with an id column and one column per class."""
    from labelaudit.label_formats import validate_multilabel_pred_probs
    from labelaudit.probabilities import positions_by_id

    frame, id_column = _read_probability_file(path, classes, [])
    values = _values(frame, classes, path)[positions_by_id(frame, id_column, row_ids, path)]
    try:
        return validate_multilabel_pred_probs(values)
    except InputDataError as exc:
        raise InputDataError(f"{exc} (rows in batch order)", source=path) from exc


def load_token_probabilities(path: str, row_ids: pd.Series, lengths: np.ndarray, classes: list[str]) -> np.ndarray:
    """Flat (T, K) per-token probabilities, in sentence order, from a file with a sentence id column, a
    ``token_idx`` column (0-based) and one column per class; every token of the batch exactly once."""
    from labelaudit._cl.validation import validate_pred_probs

    frame, id_column = _read_probability_file(path, classes, [TOKEN_INDEX_COLUMN])
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
    values = _values(frame, classes, path)[position.loc[wanted].to_numpy()]
    try:
        return validate_pred_probs(values)
    except InputDataError as exc:
        raise InputDataError(f"{exc} (flat token positions, sentence by sentence)", source=path) from exc


def use_precomputed(
    store: AuditStore, run_id: str, path: str, batch: Batch, inputs: SequenceFitInputs
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model for multi-label and token batches (file layouts: README, "Bring your own")."""
    with recording(store, run_id, "fit"):
        if inputs.label_type == "multilabel":
            probs = load_multilabel_probabilities(path, batch.row_ids, inputs.classes)
        else:
            probs = load_token_probabilities(path, batch.row_ids, inputs.lengths, inputs.classes)
        metrics = _metrics(inputs, [], probs)
        _write_probs(store, run_id, inputs, probs, None, metrics, f"precomputed from {path}")
    return probs, metrics


# -- scoring ----------------------------------------------------------------------------------------------------


def _ranks(quality: np.ndarray, mask: np.ndarray) -> pd.array:
    rank = np.zeros(len(quality), dtype=np.int64)
    flagged = np.flatnonzero(mask)
    rank[flagged[np.argsort(quality[flagged], kind="stable")]] = np.arange(1, flagged.size + 1)
    out = pd.array(rank, dtype="Int32")
    out[~mask] = pd.NA
    return out


def _run_metrics(rows: int, classes: int, mask: np.ndarray, accuracy: float, log_loss: float | None, method: str):
    from labelaudit.filter import TIE_RULE

    share = float(mask.mean()) if rows else 0.0
    return pd.DataFrame(
        {
            "rows": [rows],
            "classes": [classes],
            "flagged": [int(mask.sum())],
            "estimated_issues": [float(mask.sum())],
            "estimated_error_rate": [share],
            "flagged_rate": [share],
            "oof_accuracy": [accuracy],
            "oof_log_loss": [log_loss],
            "method": [method],
            "tie_rule": [TIE_RULE],
            "scoring_path": ["in-memory"],
        }
    )


def _details(frame: pd.DataFrame, row_ids: np.ndarray) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(1, "row_id", row_ids[frame["row_idx"].to_numpy()])
    frame["detail_rank"] = np.arange(1, len(frame) + 1, dtype=np.int32)
    return frame


def _score_multilabel(
    inputs: SequenceFitInputs, probs: np.ndarray, row_ids: np.ndarray, definition: DatasetDefinition, log_loss
) -> tuple[ScoredBatch, pd.DataFrame, str]:
    from labelaudit.label_formats import format_multilabel
    from labelaudit.multilabel_classification import audit_multilabel

    audit = audit_multilabel(inputs.labels, probs, class_names=inputs.classes, filter_by=definition.filter_by)
    given = inputs.targets.astype(bool)
    suggested = given ^ audit.per_class_mask
    n, k = probs.shape
    worst = audit.class_scores.argmin(axis=1)
    p_worst = probs[np.arange(n), worst]
    sep = definition.label_separator
    scores = pd.DataFrame(
        {
            "row_idx": np.arange(n, dtype=np.int64),
            "row_id": row_ids,
            "given_label": format_multilabel(inputs.labels, inputs.classes, separator=sep),
            "suggested_label": format_multilabel(
                [np.flatnonzero(row).tolist() for row in suggested], inputs.classes, separator=sep
            ),
            "suggested_prob": np.where(suggested[np.arange(n), worst], p_worst, 1 - p_worst).astype(np.float64),
            "label_quality": np.asarray(audit.label_quality, dtype=np.float64),
            "is_issue": audit.issue_mask,
            "issue_rank": _ranks(np.asarray(audit.label_quality, dtype=np.float64), audit.issue_mask),
        }
    )
    cells = audit.cells
    extra = (cells["kind"] == "extra").to_numpy()
    details = _details(
        pd.DataFrame(
            {
                "row_idx": cells["row"].to_numpy(dtype=np.int64),
                "position": cells["class_index"].to_numpy(dtype=np.int32),
                "item": cells["class_name"].astype(str).to_numpy(),
                "kind": cells["kind"].to_numpy(),
                "given": np.where(extra, "present", "absent"),
                "suggested": np.where(extra, "absent", "present"),
                "score": cells["class_score"].to_numpy(dtype=np.float64),
                "suggested_prob": np.where(extra, 1 - cells["probability"], cells["probability"]).astype(np.float64),
            }
        ),
        row_ids,
    )
    flagged_cells = audit.per_class_mask.sum(axis=0)
    predicted = probs >= 0.5
    class_metrics = pd.DataFrame(
        {
            "label": inputs.classes,
            "given_count": given.sum(axis=0).astype(np.int64),
            "flagged": flagged_cells.astype(np.int64),
            "estimated_error_rate": flagged_cells / max(n, 1),
            "flagged_rate": flagged_cells / max(n, 1),
            "oof_accuracy": (predicted == given).mean(axis=0),
        }
    )
    accuracy = float((predicted == given).mean())
    metrics = _run_metrics(n, k, audit.issue_mask, accuracy, log_loss, definition.filter_by)
    empty_noise = pd.DataFrame(columns=["given_label", "true_label", "confident_count", "joint", "noise"])
    n_missing = int((~extra).sum())
    message = (
        f"{int(audit.issue_mask.sum())} rows flagged ({len(cells)} tag annotations: {n_missing} missing, "
        f"{int(extra.sum())} extra)"
    )
    return ScoredBatch(scores, empty_noise, class_metrics, metrics), details, message


def _score_tokens(
    inputs: SequenceFitInputs, probs: np.ndarray, row_ids: np.ndarray, definition: DatasetDefinition, log_loss
) -> tuple[ScoredBatch, pd.DataFrame, str]:
    from labelaudit.token_classification import audit_tokens

    lengths = inputs.lengths
    per_sentence = np.split(probs, np.cumsum(lengths)[:-1])
    audit = audit_tokens(
        inputs.labels, per_sentence, tokens=inputs.tokens, class_names=inputs.classes, filter_by=definition.filter_by
    )
    names = np.asarray(inputs.classes, dtype=object)
    flat = inputs.targets
    mask = audit.token_issue_mask
    corrected = np.where(mask, audit.predicted, flat)
    offsets = audit.offsets
    s = len(lengths)
    # the sentence's weakest token: where its score comes from, and where the suggestion's probability is read
    sentence_of = np.repeat(np.arange(s), lengths)
    order = np.lexsort((audit.token_scores, sentence_of))
    worst = order[offsets[:-1]]
    scores = pd.DataFrame(
        {
            "row_idx": np.arange(s, dtype=np.int64),
            "row_id": row_ids,
            "given_label": [" ".join(names[flat[a:b]]) for a, b in itertools.pairwise(offsets)],
            "suggested_label": [" ".join(names[corrected[a:b]]) for a, b in itertools.pairwise(offsets)],
            "suggested_prob": probs[worst, corrected[worst]].astype(np.float64),
            "label_quality": np.asarray(audit.sentence_scores, dtype=np.float64),
            "is_issue": audit.sentence_has_issue,
            "issue_rank": _ranks(np.asarray(audit.sentence_scores, dtype=np.float64), audit.sentence_has_issue),
        }
    )
    table = audit.issue_tokens
    sentence = table["sentence"].to_numpy(dtype=np.int64)
    token = table["token"].to_numpy(dtype=np.int64)
    position = offsets[sentence] + token
    details = _details(
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
    types = np.asarray([entity_type(c) for c in inputs.classes], dtype=object)
    type_names = list(dict.fromkeys(types))
    type_of = pd.Categorical(types[flat], categories=type_names).codes
    count = np.bincount(type_of, minlength=len(type_names))
    flagged = np.bincount(type_of[mask], minlength=len(type_names))
    right = np.bincount(type_of[audit.predicted == flat], minlength=len(type_names))
    rate = flagged / np.maximum(count, 1)
    class_metrics = pd.DataFrame(
        {
            "label": type_names,
            "given_count": count.astype(np.int64),
            "flagged": flagged.astype(np.int64),
            "estimated_error_rate": rate,
            "flagged_rate": rate,
            "oof_accuracy": np.where(count > 0, right / np.maximum(count, 1), np.nan),
        }
    )
    accuracy = float((audit.predicted == flat).mean())
    metrics = _run_metrics(s, len(names), audit.sentence_has_issue, accuracy, log_loss, definition.filter_by)
    empty_noise = pd.DataFrame(columns=["given_label", "true_label", "confident_count", "joint", "noise"])
    message = f"{int(audit.sentence_has_issue.sum())} sentences flagged ({int(mask.sum())} tokens)"
    return ScoredBatch(scores, empty_noise, class_metrics, metrics), details, message


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
    with recording(store, run_id, "score") as started:
        row_ids = batch.row_ids.astype(str).to_numpy()
        scorer = _score_multilabel if inputs.label_type == "multilabel" else _score_tokens
        with warnings.catch_warnings():
            # a class no fold could predict well is expected on small batches; the report shows its rate
            warnings.simplefilter("ignore", RuntimeWarning)
            scored, details, message = scorer(inputs, probs, row_ids, bundle.definition, oof_log_loss)
        tables = {
            "scores": scored.scores,
            "class_metrics": scored.class_metrics,
            "run_metrics": scored.run_metrics,
            "label_issue_details": details,
        }
        store.write_stage(run_id, "score", StageWrite(tables, started, rows=len(scored.scores), message=message))
    return scored
