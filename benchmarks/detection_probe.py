"""Measured, not used: judging ``auto``'s candidates by the errors they find among labels flipped on purpose.

``bench_detection.py --probe`` measures this criterion beside the one ``auto`` uses. It was wired into the fit
stage once and taken out again: over 210 runs it found fewer errors than choosing by accuracy (mean F1 0.005
lower, fewer errors in 33 runs and more in 21) at two to four times the fitting (``benchmarks/README.md``).

Why it was tried: the question ``auto`` answers is "whose probabilities make confident learning find the label
errors", and no figure measured against the given labels answers it. A probe adds errors whose rows are known:
``PROBE_RATE`` of the rows get another class, drawn uniformly. Each candidate is cross-validated on the probe
labels (the same folds), confident learning flags rows, and the candidate is scored by the F1 of finding the
flipped rows (:func:`probe_f1`) or by the average precision of its ranking (:func:`probe_ap`), both through
:func:`candidate_probe_scores`. The errors already in the batch are not positives, so the precision it measures
is too low by the same factor for every candidate that finds them as well as the flipped ones. Small batches
get more draws (:func:`probe_draws`), averaged: 15 flipped rows of iris's 150 are a noisy estimate, and that
noise is what sank it on the small sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.models.crossval import FoldPlan, fit_fold

#: Share of the rows a probe gives another class.
PROBE_RATE = 0.10
#: Flipped rows, over all draws, that make the estimate steady enough (one row moves F1 by about 1 / this).
PROBE_TARGET = 200
#: The most draws a small batch gets.
MAX_DRAWS = 3


def probe_draws(n_rows: int) -> int:
    """How many probes a batch of ``n_rows`` gets: enough for :data:`PROBE_TARGET` flipped rows, 1 to 3."""
    flipped = max(1, round(PROBE_RATE * n_rows))
    return int(min(MAX_DRAWS, max(1, -(-PROBE_TARGET // flipped))))


def probe_labels(labels: np.ndarray, n_classes: int, *, seed: int, draw: int) -> np.ndarray:
    """``labels`` (N,) with round(:data:`PROBE_RATE` x N) rows (at least one) moved to another class, uniformly.

    Deterministic in ``labels``, ``seed`` and ``draw``: every fold of a batch computes the same probe for itself,
    so folds stay independent units of work.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, draw, 0x1ABE1])
    flipped = rng.choice(len(labels), size=min(len(labels), max(1, round(PROBE_RATE * len(labels)))), replace=False)
    probe = labels.copy()
    probe[flipped] = (labels[flipped] + rng.integers(1, n_classes, size=flipped.size)) % n_classes
    return probe


def probe_f1(labels: np.ndarray, probe: np.ndarray, probs: np.ndarray) -> float:
    """F1 of confident learning's flags on ``probe`` labels (N,) with out-of-fold ``probs`` (N, K), the positives
    being the rows the probe flipped (``probe != labels``)."""
    from labelaudit.cl.filter import find_label_issues

    flipped = probe != labels
    flags = find_label_issues(probe, probs)
    found = int((flags & flipped).sum())
    if found == 0:
        return 0.0
    return 2 * found / (int(flags.sum()) + int(flipped.sum()))


def probe_ap(labels: np.ndarray, probe: np.ndarray, probs: np.ndarray) -> float:
    """Average precision of the ranking by self-confidence (the report's order) in finding the flipped rows:
    how well the candidate ranks, where :func:`probe_f1` judges the flags."""
    from sklearn.metrics import average_precision_score

    from labelaudit.cl.rank import get_label_quality_scores

    flipped = probe != labels
    if not flipped.any():
        return 0.0
    return float(average_precision_score(flipped, -get_label_quality_scores(probe, probs)))


def candidate_probe_scores(
    frame: pd.DataFrame, labels: np.ndarray, n_classes: int, plan: FoldPlan, definition: DatasetDefinition
) -> dict[str, dict[str, float]]:
    """Each candidate's :func:`probe_f1` (``"f1"``: its flags) and :func:`probe_ap` (``"ap"``: its ranking),
    averaged over :func:`probe_draws` probes, each cross-validated on ``plan``'s folds."""
    found: dict[str, dict[str, list[float]]] = {}
    for draw in range(probe_draws(len(labels))):
        probe = probe_labels(labels, n_classes, seed=definition.seed, draw=draw)
        results = [fit_fold(frame, probe, n_classes, plan, f, definition) for f in range(plan.n_folds)]
        for name in results[0].candidates.probs:
            p = np.zeros((len(labels), n_classes))
            for r in results:
                p[r.test_rows] = r.candidates.probs[name]
            scores = found.setdefault(name, {"f1": [], "ap": []})
            scores["f1"].append(probe_f1(labels, probe, p))
            scores["ap"].append(probe_ap(labels, probe, p))
    return {name: {key: float(np.mean(v)) for key, v in scores.items()} for name, scores in found.items()}
