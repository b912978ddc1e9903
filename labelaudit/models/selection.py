"""Choosing the probabilities of ``"classifier": "auto"`` by measurement: the best out-of-fold accuracy.

The choice is among the candidates fitted and the mean of the best ones' probabilities (:data:`MEAN`, no fit
of its own; :func:`mean_members`): averaging models of different families that are about as accurate often
finds more errors than either, so the mean is compared like a candidate and used where it is more accurate.

Why accuracy (log-loss breaking ties), not log-loss: against noisy labels log-loss rewards the model that hedges
on every row, since a good model's confident "mistakes" on mislabelled rows cost it most; measured with
``benchmarks/bench_detection.py`` (every criterion in :data:`CRITERIA` on the same candidates), accuracy came
closest to the best fixed classifier (``docs/models.md``), closer than judging the candidates by how well they
find labels flipped on purpose (measured there too, at two to four times the fitting). Every candidate is
scored on the same rows.

The time budget scales with the batch:

- up to ``model.screen_above`` rows (default 20,000), every candidate is fitted in every fold: auto costs the
  sum of the candidates (about 3 fixed models);
- above it, :func:`screen` first cross-validates every candidate (3 folds) on a stratified subsample of
  ``model.screen_rows`` rows (default 5,000) and keeps the best and any within :data:`KEEP_WITHIN` of its
  log-loss, at most :data:`KEEP_AT_MOST`; only those are fitted on the full folds. The cost is then at most
  two full models plus a constant (the screening), whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.models.candidates import ALL_CANDIDATES, MEAN, MEAN_WITHIN, candidate_names
from labelaudit.models.pipelines import fit_predict

if TYPE_CHECKING:  # annotations only: crossval calls screen and resolve, so selection never imports it
    from labelaudit.models.candidates import CandidateFolds
    from labelaudit.models.crossval import FoldResult

__all__ = [
    "CRITERIA",
    "CRITERION",
    "MEAN",
    "MEAN_WITHIN",
    "CandidateScore",
    "ModelSelection",
    "Screening",
    "candidate_figures",
    "choose",
    "fold_figures",
    "mean_members",
    "resolve",
    "screen",
]

#: Screening keeps candidates whose log-loss is within this fraction of the best one's (a subsample's ranking
#: of close candidates can flip on the full batch).
KEEP_WITHIN = 0.10
#: ... and at most this many.
KEEP_AT_MOST = 2
#: Folds of the screening cross-validation.
SCREEN_FOLDS = 3


@dataclass(frozen=True)
class Screening:
    """The screening of a large batch: rows of the subsample, each candidate's log-loss there, those kept."""

    rows: int
    log_loss: dict[str, float]
    kept: tuple[str, ...]


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's out-of-fold figures; ``log_loss``/``accuracy``/``seconds`` are None if screened out."""

    name: str
    log_loss: float | None
    accuracy: float | None
    seconds: float | None
    screen_log_loss: float | None
    chosen: bool
    brier: float | None = None
    in_mean: bool | None = None  # averaged into the mean (:data:`MEAN`); None on the mean's own row


@dataclass(frozen=True)
class ModelSelection:
    """What ``auto`` compared and what it used: the record the score stage and the report store."""

    chosen: str
    candidates: tuple[CandidateScore, ...]
    screened_rows: int | None

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate and the mean: name, log_loss, accuracy, seconds, screen_log_loss, chosen, brier,
        in_mean, screened_rows."""
        frame = pd.DataFrame([vars(c) for c in self.candidates])
        frame["screened_rows"] = pd.array([self.screened_rows] * len(frame), dtype="Int64")
        return frame


def screen(frame: pd.DataFrame, labels: np.ndarray, n_classes: int, definition: DatasetDefinition) -> Screening | None:
    """For a batch above ``model.screen_above`` rows: the candidates worth fitting on the full folds.

    Deterministic in the batch and the definition's seed, so every fold that screens for itself keeps the same
    candidates. None for a batch small enough to fit every candidate, or with a single candidate.
    """
    spec = definition.model
    names = candidate_names(definition)
    if len(labels) <= spec.screen_above or len(names) < 2:
        return None
    sample = _stratified_sample(labels, spec.screen_rows, definition.seed)
    sub_frame = frame.iloc[sample]
    sub_labels = labels[sample]
    features = sub_frame[definition.model_columns([str(c) for c in frame.columns])]
    test_rows = _screen_folds(sub_labels, definition.seed)
    losses = {}
    for name in names:
        probs = np.zeros((len(sample), n_classes))
        for test in test_rows:
            train = np.setdiff1d(np.arange(len(sample)), test, assume_unique=True)
            probs[test] = fit_predict(definition, features, sub_labels, train, test, n_classes, classifier=name)
        losses[name] = float(log_loss(sub_labels, probs, labels=range(n_classes)))
    ranked = sorted(names, key=lambda n: losses[n])
    best = losses[ranked[0]]
    kept = tuple(n for n in ranked if losses[n] <= best * (1 + KEEP_WITHIN))[:KEEP_AT_MOST]
    return Screening(len(sample), losses, kept)


def _stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` row positions, stratified by label where every class has two rows (else a plain sample)."""
    rows = np.arange(len(labels))
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    sample, _ = train_test_split(rows, train_size=size, stratify=stratify, random_state=seed)
    return np.sort(sample)


def _screen_folds(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """The held-out row positions of each screening fold."""
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(labels)
    if counts[counts > 0].min() >= SCREEN_FOLDS:
        splitter = StratifiedKFold(n_splits=SCREEN_FOLDS, shuffle=True, random_state=seed)
    else:  # a class too rare to stratify: plain folds (the screening is a ranking, not the audit's probabilities)
        splitter = KFold(n_splits=SCREEN_FOLDS, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(labels)), labels)]


#: How a candidate is judged; the module docstring says why, ``benchmarks/README.md`` has the measurement.
CRITERION = "accuracy"


def _figures(labels: np.ndarray, probs: np.ndarray, n_classes: int, trusted: np.ndarray) -> dict[str, float]:
    """Every figure a criterion may use, for one candidate's out-of-fold probabilities (N, K)."""
    onehot = np.eye(n_classes)[labels]
    per_row = ((probs - onehot) ** 2).sum(axis=1)
    return {
        "log_loss": float(log_loss(labels, probs, labels=range(n_classes))),
        "accuracy": float((probs.argmax(axis=1) == labels).mean()),
        "brier": float(per_row.mean()),
        "trimmed_log_loss": float(log_loss(labels[trusted], probs[trusted], labels=range(n_classes)))
        if trusted.any()
        else float("inf"),
    }


#: Lower is better for each criterion; ties go to the simpler model (the order of :data:`ALL_CANDIDATES`).
CRITERIA: dict[str, Callable[[dict[str, float]], tuple[float, ...]]] = {
    "log_loss": lambda f: (f["log_loss"],),
    "brier": lambda f: (f["brier"],),
    "accuracy": lambda f: (-f["accuracy"], f["log_loss"]),
    "trimmed_log_loss": lambda f: (f["trimmed_log_loss"],),
}


def candidate_figures(labels: np.ndarray, probs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Each candidate's figures on the same rows. ``probs[name]`` is (N, K); the trimmed log-loss uses the
    rows no candidate's confident learning flags (so mislabelled rows do not weigh in)."""
    from labelaudit.cl.filter import find_label_issues

    n_classes = next(iter(probs.values())).shape[1]
    flagged = np.zeros(len(labels), dtype=bool)
    for p in probs.values():
        flagged |= find_label_issues(labels, p)
    return {name: _figures(labels, p, n_classes, ~flagged) for name, p in probs.items()}


def choose(figures: dict[str, dict[str, float]], criterion: str = CRITERION) -> str:
    """The candidate ``criterion`` prefers among ``figures`` (ordered as :data:`ALL_CANDIDATES`)."""
    key = CRITERIA[criterion]
    names = list(figures)
    return min(names, key=lambda n: (*key(figures[n]), names.index(n)))


def resolve(results: list[FoldResult], criterion: str = CRITERION) -> tuple[list[FoldResult], ModelSelection | None]:
    """The fold results with the chosen probabilities, and the record of the choice.

    Results of a fixed classifier are returned unchanged, with None. The choice is the best by ``criterion``
    (:data:`CRITERION`: accuracy, log-loss breaking ties, by default) over all out-of-fold rows, among the
    candidates and the mean of the best ones (:data:`MEAN`, :func:`mean_members`); ties go to the earlier of
    :data:`ALL_CANDIDATES` (the simpler model), the mean last.
    """
    if not results or all(r.candidates is None for r in results):
        return results, None
    figures, members = fold_figures(results)
    chosen = choose(figures, criterion)
    seconds = {n: float(sum(r.candidates.seconds[n] for r in results)) for n in figures if n != MEAN}
    if members:
        seconds[MEAN] = sum(seconds[n] for n in members)  # the mean costs the fits it averages
    resolved = [replace(r, probs=_probs_of(r.candidates, chosen, members)) for r in results]
    return resolved, _record(chosen, figures, seconds, results[0].candidates.screening, members)


def fold_figures(results: list[FoldResult]) -> tuple[dict[str, dict[str, float]], tuple[str, ...]]:
    """The figures (:func:`candidate_figures`) of every candidate of ``auto`` folds over the out-of-fold rows,
    and of the mean of the best ones (:data:`MEAN`, last) when :func:`mean_members` finds two or more; and
    those members (empty: no mean)."""
    if any(r.candidates is None for r in results):
        raise ValueError("some folds were fitted with 'auto' and some with a fixed classifier: refit all folds")
    first = results[0].candidates
    if any(list(r.candidates.probs) != list(first.probs) for r in results):
        raise ValueError("the folds fitted different candidates: refit all folds")
    names = [n for n in ALL_CANDIDATES if n in first.probs]
    labels = np.concatenate([r.candidates.labels for r in results])
    probs = {n: np.concatenate([r.candidates.probs[n] for r in results]) for n in names}
    # the members need only the accuracies (as _figures computes them), so every figure is computed once
    members = mean_members({n: {"accuracy": float((p.argmax(axis=1) == labels).mean())} for n, p in probs.items()})
    if members:
        probs[MEAN] = np.mean([probs[n] for n in members], axis=0)
    return candidate_figures(labels, probs), members


def mean_members(figures: dict[str, dict[str, float]]) -> tuple[str, ...]:
    """The candidates the mean averages: those within :data:`MEAN_WITHIN` of the best out-of-fold accuracy;
    empty unless there are two (a mean of one model is that model). A clearly worse model is left out: its
    probabilities would only dilute the others'."""
    best = max(f["accuracy"] for f in figures.values())
    members = tuple(n for n, f in figures.items() if f["accuracy"] >= best - MEAN_WITHIN)
    return members if len(members) > 1 else ()


def _probs_of(candidates: CandidateFolds, name: str, members: tuple[str, ...]) -> np.ndarray:
    """A fold's held-out probabilities (n_test, K) of candidate ``name``, or of the mean of ``members``."""
    if name == MEAN:
        return np.mean([candidates.probs[n] for n in members], axis=0)
    return candidates.probs[name]


def _record(
    chosen: str,
    figures: dict[str, dict[str, float]],
    seconds: dict[str, float],
    screening: Screening | None,
    members: tuple[str, ...],
) -> ModelSelection:
    screened = screening.log_loss if screening is not None else {}
    names = [n for n in (*ALL_CANDIDATES, MEAN) if n in figures or n in screened]
    scores = []
    for n in names:
        f = figures.get(n, {})
        scores.append(
            CandidateScore(
                n,
                f.get("log_loss"),
                f.get("accuracy"),
                seconds.get(n),
                screened.get(n),
                n == chosen,
                f.get("brier"),
                None if n == MEAN else n in members,
            )
        )
    return ModelSelection(chosen, tuple(scores), screening.rows if screening is not None else None)
