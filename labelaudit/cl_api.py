"""The public confident-learning API, re-exported for ``labelaudit/__init__.py``.

A cleanlab 2.9 user switches by changing one import: the names, argument names, order and defaults are
cleanlab's (single-label classification). ``from labelaudit.cl_api import *`` brings exactly ``__all__``.
"""

from __future__ import annotations

from labelaudit._cl.kernels import TIE_RULE
from labelaudit._cl.validation import (
    InvalidLabelsError,
    InvalidPredProbsError,
    ProbabilitiesRenormalisedWarning,
)
from labelaudit.count import (
    calibrate_confident_joint,
    compute_confident_joint,
    estimate_joint,
    estimate_latent,
    estimate_py_and_noise_matrices_from_probabilities,
    get_confident_thresholds,
    num_label_issues,
)
from labelaudit.filter import ConfidentLearningSummary, confident_learning_summary, find_label_issues
from labelaudit.rank import (
    get_confidence_weighted_entropy_for_each_label,
    get_label_quality_scores,
    get_normalized_margin_for_each_label,
    get_self_confidence_for_each_label,
    order_label_issues,
)

__all__ = [
    "TIE_RULE",
    "ConfidentLearningSummary",
    "InvalidLabelsError",
    "InvalidPredProbsError",
    "ProbabilitiesRenormalisedWarning",
    "calibrate_confident_joint",
    "compute_confident_joint",
    "confident_learning_summary",
    "estimate_joint",
    "estimate_latent",
    "estimate_py_and_noise_matrices_from_probabilities",
    "find_label_issues",
    "get_confidence_weighted_entropy_for_each_label",
    "get_confident_thresholds",
    "get_label_quality_scores",
    "get_normalized_margin_for_each_label",
    "get_self_confidence_for_each_label",
    "num_label_issues",
    "order_label_issues",
]
