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
    "find_label_issues": "labelaudit.cl.filter",
    "find_predicted_neq_given": "labelaudit.cl.filter",
    "find_label_issues_using_argmax_confusion_matrix": "labelaudit.cl.filter",
    "confident_learning_summary": "labelaudit.cl.filter",
    "get_label_quality_scores": "labelaudit.cl.rank",
    "get_label_quality_ensemble_scores": "labelaudit.cl.rank",
    "find_top_issues": "labelaudit.cl.rank",
    "order_label_issues": "labelaudit.cl.rank",
    "get_self_confidence_for_each_label": "labelaudit.cl.rank",
    "get_normalized_margin_for_each_label": "labelaudit.cl.rank",
    "get_confidence_weighted_entropy_for_each_label": "labelaudit.cl.rank",
    "get_confident_thresholds": "labelaudit.cl.count",
    "compute_confident_joint": "labelaudit.cl.count",
    "calibrate_confident_joint": "labelaudit.cl.count",
    "estimate_joint": "labelaudit.cl.count",
    "estimate_latent": "labelaudit.cl.count",
    "estimate_py_and_noise_matrices_from_probabilities": "labelaudit.cl.count",
    "num_label_issues": "labelaudit.cl.count",
    # fitting helpers (scikit-learn is imported on first use)
    "estimate_cv_predicted_probabilities": "labelaudit.cl.count",
    "estimate_confident_joint_and_cv_pred_proba": "labelaudit.cl.count",
    "estimate_noise_matrices": "labelaudit.cl.count",
    "estimate_py_noise_matrices_and_cv_pred_proba": "labelaudit.cl.count",
    # several labels per item (cleanlab.multiannotator)
    "get_label_quality_multiannotator": "labelaudit.cl.multiannotator",
    "get_label_quality_multiannotator_ensemble": "labelaudit.cl.multiannotator",
    "get_majority_vote_label": "labelaudit.cl.multiannotator",
    "get_active_learning_scores": "labelaudit.cl.multiannotator",
    "get_active_learning_scores_ensemble": "labelaudit.cl.multiannotator",
    "convert_long_to_wide_dataset": "labelaudit.cl.multiannotator",
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
