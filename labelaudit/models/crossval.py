"""Cross-validated fitting: out-of-fold predicted probabilities for every row.

Confident learning needs, for each row, the probability of every class from a model that never saw that row.
Folds are planned once (stratified, seeded) and each fold is an independent unit of work, so an orchestrator
can run them in parallel (Prefect tasks, a Dask cluster) and cache them one by one. With ``"classifier":
"auto"`` a fold fits every candidate (:mod:`labelaudit.models.candidates`) and the choice among them is made
when the folds are assembled (:func:`labelaudit.models.selection.resolve`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.models.candidates import CandidateFolds, candidate_names, fit_candidates
from labelaudit.models.pipelines import build_pipeline as build_pipeline  # re-exported: its documented home
from labelaudit.models.pipelines import fit_predict
from labelaudit.models.selection import Screening, resolve, screen


@dataclass(frozen=True)
class FoldPlan:
    """Which rows each fold holds out. ``test_rows[i]`` are 0-based row positions."""

    test_rows: list[np.ndarray]

    @property
    def n_folds(self) -> int:
        return len(self.test_rows)


@dataclass(frozen=True)
class FoldResult:
    """Out-of-fold probabilities of one fold's held-out rows, in class-index order.

    With ``"classifier": "auto"``, ``candidates`` holds every candidate's probabilities and ``probs`` is only
    final once :func:`labelaudit.models.selection.resolve` has chosen (``assemble`` and ``fold_metrics`` do).
    """

    fold: int
    test_rows: np.ndarray
    probs: np.ndarray
    seconds: float
    candidates: CandidateFolds | None = None


def encode_labels(labels: pd.Series, classes: list[str], *, source: str | None = None) -> np.ndarray:
    """Map label strings to class indices, refusing values outside ``classes`` (naming rows)."""
    codes = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        values = sorted({str(v) for v in labels.iloc[bad[:20]]})
        raise InputDataError(
            f"label values {values} are not among the classes {classes}",
            source=source,
            column=str(labels.name),
            rows=(bad + 1).tolist(),
        )
    return codes


def plan_folds(labels: np.ndarray, classes: list[str], *, folds: int, seed: int) -> FoldPlan:
    """Stratified folds; refuses data that cannot be cross-validated, saying what to change."""
    counts = np.bincount(labels, minlength=len(classes))
    present = np.flatnonzero(counts)
    if present.size < 2:
        only = classes[int(present[0])] if present.size else "none"
        raise FittingError(f"the batch has a single class ({only!r}); confident learning needs at least two classes")
    small = [(classes[i], int(counts[i])) for i in present if counts[i] < folds]
    if small:
        listed = ", ".join(f"{name!r} has {n}" for name, n in small)
        raise FittingError(
            f"{listed} row(s), fewer than the {folds} folds: each class needs at least one row per fold. "
            f"Use fewer folds (--folds {max(2, min(n for _, n in small))}) if that is at least 2, "
            "fix or remove those rows, or supply precomputed probabilities"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    dummy = np.zeros(len(labels))
    return FoldPlan([test for _, test in splitter.split(dummy, labels)])


def fit_fold(
    frame: pd.DataFrame,
    labels: np.ndarray,
    n_classes: int,
    plan: FoldPlan,
    fold: int,
    definition: DatasetDefinition,
    *,
    screening: Screening | None = None,
) -> FoldResult:
    """Fit on every fold but ``fold`` and predict its held-out rows.

    With ``"classifier": "auto"`` every candidate is fitted (only those ``screening`` kept, for a batch of
    more than ``model.screen_above`` rows). Pass the batch's :func:`labelaudit.models.selection.screen` to
    screen once for all folds; without it each fold screens for itself (deterministic, so all folds agree).
    """
    started = time.perf_counter()
    test = plan.test_rows[fold]
    train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    features = frame[definition.model_columns([str(c) for c in frame.columns])]
    if definition.model.classifier != "auto":
        probs = fit_predict(definition, features, labels, train, test, n_classes)
        return FoldResult(fold, test, probs, time.perf_counter() - started)
    if screening is None:
        screening = screen(frame, labels, n_classes, definition)
    names = list(screening.kept) if screening is not None else candidate_names(definition)

    def fit_one(name: str) -> np.ndarray:
        return fit_predict(definition, features, labels, train, test, n_classes, classifier=name)

    candidates = fit_candidates(fit_one, names, labels[test], screening)
    # a placeholder until the choice, which needs every fold: selection.resolve replaces it
    probs = candidates.probs[names[0]]
    return FoldResult(fold, test, probs, time.perf_counter() - started, candidates)


def assemble(results: list[FoldResult], n_rows: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities (N, K) and the fold of each row, from the per-fold results.

    Results of ``"classifier": "auto"`` folds are resolved first (the chosen candidate's probabilities).
    """
    results, _ = resolve(results)
    probs = np.zeros((n_rows, n_classes))
    fold_of = np.full(n_rows, -1, dtype=np.int32)
    for result in results:
        probs[result.test_rows] = result.probs
        fold_of[result.test_rows] = result.fold
    if (fold_of < 0).any():
        raise FittingError("internal error: some rows were in no fold")
    return probs, fold_of


def fold_metrics(results: list[FoldResult], probs: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Accuracy and log-loss per fold and overall (``fold`` missing) of the out-of-fold predictions."""
    results, _ = resolve(results)
    k = probs.shape[1]
    rows = []
    for result in sorted(results, key=lambda r: r.fold):
        y = labels[result.test_rows]
        p = result.probs
        rows.append((result.fold, len(y), _accuracy(p, y), log_loss(y, p, labels=range(k)), result.seconds))
    rows.append((None, len(labels), _accuracy(probs, labels), log_loss(labels, probs, labels=range(k)), None))
    frame = pd.DataFrame(rows, columns=["fold", "rows", "accuracy", "log_loss", "seconds"])
    frame["fold"] = frame["fold"].astype("Int32")
    return frame


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == labels).mean())
