"""The classifier families a fold can fit, and the candidates ``"classifier": "auto"`` compares.

Confident learning is only as good as the out-of-fold probabilities under it, and no one family wins on every
data set: logistic regression on scaled features is hard to beat on linear, high-dimensional or sparse data
(TF-IDF text, embeddings), tree ensembles on non-linear boundaries and interactions. So ``auto`` fits each
candidate in every fold and :mod:`labelaudit.models.selection` keeps the one with the best out-of-fold
log-loss (the quantity confident learning's thresholds are made of: calibrated probabilities, not accuracy).

Every candidate is built by the same factory as the fixed classifier of that name, so a candidate chosen by
``auto`` gives exactly the probabilities the fixed classifier gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from labelaudit.inputs.definition import DatasetDefinition, Role

if TYPE_CHECKING:
    from labelaudit.models.selection import Screening

__all__ = [
    "ALL_CANDIDATES",
    "MEAN",
    "MEAN_WITHIN",
    "CandidateFolds",
    "candidate_names",
    "fit_candidates",
    "make_classifier",
]

#: Every family ``auto`` may try, in the order they are reported.
ALL_CANDIDATES = ("logistic_regression", "hist_gradient_boosting", "random_forest")
#: The name under which ``auto`` compares, records and uses the mean of its best candidates' probabilities
#: (:func:`labelaudit.models.selection.mean_members`); here, beside the families, so the report can name it
#: without importing the selection's scikit-learn.
MEAN = "candidates_mean"
#: The mean averages the candidates whose out-of-fold accuracy is within this of the best one's (measured:
#: 0.02 found more errors than 0.05, 0.10 or always averaging all three, ``benchmarks/README.md``).
MEAN_WITHIN = 0.02


def _logistic_regression(params: dict[str, Any], seed: int) -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, **params)


def _hist_gradient_boosting(params: dict[str, Any], seed: int) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed, **params)


def _random_forest(params: dict[str, Any], seed: int) -> object:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, n_jobs=1, **params)


_FACTORIES: dict[str, Callable[[dict[str, Any], int], object]] = {
    "logistic_regression": _logistic_regression,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _random_forest,
}

#: Families that need a dense feature matrix (the fold turns the column transformer's sparse output off).
DENSE_ONLY = frozenset({"hist_gradient_boosting"})


def make_classifier(name: str, params: dict[str, Any], seed: int) -> object:
    """A new, unfitted classifier of family ``name`` with the house settings and ``params`` on top."""
    return _FACTORIES[name](params, seed)


def candidate_names(definition: DatasetDefinition) -> list[str]:
    """The candidates ``auto`` fits for this definition.

    The definition's ``model.candidates`` when given; otherwise every family, except that gradient boosting is
    left out when a feature is free text: TF-IDF gives up to 100,000 sparse columns, which it would have to
    densify (memory of rows x columns), and on such data it does not beat a linear model.
    """
    if definition.model.candidates is not None:
        return list(definition.model.candidates)
    if definition.columns_by_role(Role.text):
        return [name for name in ALL_CANDIDATES if name not in DENSE_ONLY]
    return list(ALL_CANDIDATES)


@dataclass(frozen=True)
class CandidateFolds:
    """What one fold learnt about every candidate it fitted: probabilities of its held-out rows, time taken.

    ``labels`` are the held-out rows' given labels (class indices), so the choice can be made from the fold
    results alone, without the batch. ``screening`` is the screening this fold fitted after (None: all).
    """

    probs: dict[str, np.ndarray]
    seconds: dict[str, float]
    labels: np.ndarray
    screening: Screening | None = None


def fit_candidates(
    fit_one: Callable[[str], np.ndarray],
    names: Sequence[str],
    test_labels: np.ndarray,
    screening: Screening | None,
) -> CandidateFolds:
    """Fit every candidate of ``names`` with ``fit_one(name) -> probs (n_test, K)``, timing each."""
    probs: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name in names:
        started = time.perf_counter()
        probs[name] = fit_one(name)
        seconds[name] = time.perf_counter() - started
    return CandidateFolds(probs, seconds, np.asarray(test_labels), screening)
