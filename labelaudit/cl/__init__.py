"""The confident-learning core: cleanlab's algorithms with cleanlab's names, as vectorised numpy.

Modules mirror cleanlab 2.9 (``count``, ``filter``, ``rank``, ``multilabel_classification``,
``token_classification``, ``multiannotator``) so a cleanlab user finds each function where they expect it;
``outofcore`` scores probabilities that do not fit in memory, and ``_engine`` holds the private kernels.
Nothing here knows about runs, DuckDB or Prefect.
"""

from __future__ import annotations

#: The core's public API in one list: each module (cleanlab's name) and the functions and types it exports (its
#: ``__all__``; ``tests/cl/test_public_names.py`` keeps the two equal). Names repeat across modules as they do
#: in cleanlab (``find_label_issues`` is in ``filter``, ``multilabel_classification`` and
#: ``token_classification``), so the list is per module; ``from labelaudit import ...`` gives the multiclass
#: and multi-annotator ones directly.
PUBLIC_API: dict[str, tuple[str, ...]] = {
    "count": (
        "calibrate_confident_joint",
        "compute_confident_joint",
        "estimate_joint",
        "estimate_latent",
        "estimate_py_and_noise_matrices_from_probabilities",
        "get_confident_thresholds",
        "num_label_issues",
        "estimate_confident_joint_and_cv_pred_proba",
        "estimate_cv_predicted_probabilities",
        "estimate_noise_matrices",
        "estimate_py_noise_matrices_and_cv_pred_proba",
    ),
    "filter": (
        "TIE_RULE",
        "ConfidentLearningSummary",
        "confident_learning_summary",
        "find_label_issues",
        "find_label_issues_using_argmax_confusion_matrix",
        "find_predicted_neq_given",
    ),
    "rank": (
        "find_top_issues",
        "get_confidence_weighted_entropy_for_each_label",
        "get_label_quality_ensemble_scores",
        "get_label_quality_scores",
        "get_normalized_margin_for_each_label",
        "get_self_confidence_for_each_label",
        "order_label_issues",
    ),
    "multilabel_classification": (
        "AGGREGATORS",
        "CLASS_SCORERS",
        "MultilabelAudit",
        "audit_multilabel",
        "common_multilabel_issues",
        "exponential_moving_average",
        "find_label_issues",
        "find_multilabel_issues_per_class",
        "get_label_quality_scores",
        "get_label_quality_scores_per_class",
        "multilabel_health_summary",
        "overall_multilabel_health_score",
        "rank_classes_by_multilabel_quality",
        "softmin",
    ),
    "token_classification": (
        "SENTENCE_SCORERS",
        "TokenAudit",
        "audit_tokens",
        "common_label_issues",
        "display_issues",
        "filter_by_token",
        "find_label_issues",
        "get_label_quality_scores",
        "highlight_token",
        "issues_from_scores",
        "sentence_text",
    ),
    "multiannotator": (
        "convert_long_to_wide_dataset",
        "get_active_learning_scores",
        "get_active_learning_scores_ensemble",
        "get_label_quality_multiannotator",
        "get_label_quality_multiannotator_ensemble",
        "get_majority_vote_label",
    ),
    "outofcore": (
        "DuckDBSink",
        "DuckDBSource",
        "ParquetSink",
        "ParquetSource",
        "confident_learning_summary_out_of_core",
    ),
}

#: The public modules (``from labelaudit.cl import filter``); importing this package imports none of them.
__all__ = ["PUBLIC_API", *PUBLIC_API]
