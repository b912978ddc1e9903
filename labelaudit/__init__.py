"""labelaudit: find the labels that are probably wrong in human-labelled data.

The scoring API mirrors cleanlab's names, argument order and defaults, so a cleanlab user switches with one
import::

    from labelaudit import find_label_issues, get_label_quality_scores

Names are resolved lazily: ``import labelaudit`` stays cheap for the command line, and each submodule is
imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # confident learning, multiclass (cleanlab.filter / rank / count)
    "find_label_issues": "labelaudit.filter",
    "find_predicted_neq_given": "labelaudit.filter",
    "find_label_issues_using_argmax_confusion_matrix": "labelaudit.filter",
    "confident_learning_summary": "labelaudit.filter",
    "get_label_quality_scores": "labelaudit.rank",
    "get_label_quality_ensemble_scores": "labelaudit.rank",
    "find_top_issues": "labelaudit.rank",
    "order_label_issues": "labelaudit.rank",
    "get_self_confidence_for_each_label": "labelaudit.rank",
    "get_normalized_margin_for_each_label": "labelaudit.rank",
    "get_confidence_weighted_entropy_for_each_label": "labelaudit.rank",
    "get_confident_thresholds": "labelaudit.count",
    "compute_confident_joint": "labelaudit.count",
    "calibrate_confident_joint": "labelaudit.count",
    "estimate_joint": "labelaudit.count",
    "estimate_latent": "labelaudit.count",
    "estimate_py_and_noise_matrices_from_probabilities": "labelaudit.count",
    "num_label_issues": "labelaudit.count",
    # fitting helpers (scikit-learn is imported on first use)
    "estimate_cv_predicted_probabilities": "labelaudit.count",
    "estimate_confident_joint_and_cv_pred_proba": "labelaudit.count",
    "estimate_noise_matrices": "labelaudit.count",
    "estimate_py_noise_matrices_and_cv_pred_proba": "labelaudit.count",
    # several labels per item (cleanlab.multiannotator)
    "get_label_quality_multiannotator": "labelaudit.multiannotator",
    "get_label_quality_multiannotator_ensemble": "labelaudit.multiannotator",
    "get_majority_vote_label": "labelaudit.multiannotator",
    "get_active_learning_scores": "labelaudit.multiannotator",
    "get_active_learning_scores_ensemble": "labelaudit.multiannotator",
    "convert_long_to_wide_dataset": "labelaudit.multiannotator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labelaudit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
