"""The multiclass body of :func:`labelaudit.cl.filter.find_label_issues`: which rows confident learning flags,
by every ``filter_by`` method of cleanlab 2.9, on single-label inputs only.

Why a separate module: ``filter``'s public function takes cleanlab's legacy ``multi_label=True`` and hands it to
:mod:`labelaudit.cl.multilabel_classification`, which itself runs this body once per class (one-vs-rest). With
the body here, both import this module and neither imports the other back (no import cycle).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from labelaudit.cl._engine import core, latent
from labelaudit.cl._engine.counting import confident_joint_from, issue_count
from labelaudit.cl._engine.kernels import smallest
from labelaudit.cl.rank import rank_rows, scores_for_rows

__all__ = ["FILTERS", "check_options", "find_label_issues", "flagged_rows"]

PRUNE_METHODS = ("prune_by_noise_rate", "prune_by_class", "both")
UNTUNABLE_METHODS = ("confident_learning", "predicted_neq_given", "low_normalized_margin", "low_self_confidence")


@dataclass(frozen=True)
class _Request:
    """Everything one ``find_label_issues`` call needs, with the expensive parts computed on first use."""

    prepared: core.Prepared
    frac_noise: float
    num_to_remove_per_class: object
    min_examples_per_class: int
    confident_joint: np.ndarray | None

    @cached_property
    def joint(self) -> np.ndarray:
        """The confident joint the pruning methods use (the given one, else computed and calibrated)."""
        if self.confident_joint is not None:
            return np.asarray(self.confident_joint)
        return confident_joint_from(self.prepared)[0]

    @cached_property
    def prune_counts(self) -> np.ndarray:
        """cleanlab's ``prune_count_matrix``: transposed joint, >= n kept per class, scaled by frac_noise."""
        counts = latent.keep_at_least_n_per_class(
            self.joint.T, n=self.min_examples_per_class, frac_noise=self.frac_noise
        )
        if self.num_to_remove_per_class is not None:
            counts = latent.prune_counts_for_removal(counts, self.num_to_remove_per_class, self.prepared.label_counts)
        return counts


def _by_noise_rate(request: _Request) -> np.ndarray:
    core.warn_small_classes(request.prepared.label_counts, request.min_examples_per_class)
    return core.noise_rate_rows(request.prepared, request.prune_counts, request.min_examples_per_class)


def _by_class(request: _Request) -> np.ndarray:
    core.warn_small_classes(request.prepared.label_counts, request.min_examples_per_class)
    return core.class_rows_flagged(request.prepared, request.prune_counts, request.min_examples_per_class)


def _both(request: _Request) -> np.ndarray:
    return np.intersect1d(_by_class(request), _by_noise_rate(request), assume_unique=True)


def _confident_learning(request: _Request) -> np.ndarray:
    return request.prepared.default_pass.off_diagonal


def _predicted_neq_given(request: _Request) -> np.ndarray:
    # argmax != given label for rows whose label is not top; the other such rows (label tied with an
    # earlier class) always win back after cleanlab's 1e-6 nudge, so they are never flagged.
    return request.prepared.not_top


def _lowest_scores(method: str):
    def flag(request: _Request) -> np.ndarray:
        prepared = request.prepared
        scores = scores_for_rows(prepared, None, method, False)
        return np.sort(smallest(scores, issue_count(prepared, "off_diagonal")))

    return flag


FILTERS = {
    "prune_by_noise_rate": _by_noise_rate,
    "prune_by_class": _by_class,
    "both": _both,
    "confident_learning": _confident_learning,
    "predicted_neq_given": _predicted_neq_given,
    "low_normalized_margin": _lowest_scores("normalized_margin"),
    "low_self_confidence": _lowest_scores("self_confidence"),
}
"""filter_by -> function returning flagged rows (increasing) before the final un-flagging step."""

NOT_REDUCED = ("low_normalized_margin", "low_self_confidence")


def check_options(filter_by, frac_noise, num_to_remove_per_class, confident_joint, *, stacklevel: int = 3):
    """Refuse an unknown method; warn about options the method ignores (at the caller's caller)."""
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {sorted(FILTERS)}, got {filter_by!r}")
    if filter_by in UNTUNABLE_METHODS and (frac_noise != 1.0 or num_to_remove_per_class is not None):
        warnings.warn(
            "frac_noise and num_to_remove_per_class parameters are only supported for filter_by "
            "'prune_by_noise_rate', 'prune_by_class', and 'both'.",
            stacklevel=stacklevel,
        )
        if num_to_remove_per_class is not None:
            raise ValueError(f"filter_by={filter_by!r} is not supported (yet) when setting 'num_to_remove_per_class'")
    if filter_by == "confident_learning" and confident_joint is not None:
        warnings.warn(
            "The supplied `confident_joint` is ignored when `filter_by = 'confident_learning'`; it is "
            "re-estimated from the given labels.",
            stacklevel=stacklevel,
        )


def flagged_rows(
    prepared: core.Prepared,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class=None,
    min_examples_per_class: int = 1,
    confident_joint=None,
) -> np.ndarray:
    """Row numbers (increasing) that :func:`find_label_issues` flags, on already validated inputs."""
    if confident_joint is not None and filter_by != "confident_learning":
        confident_joint = np.asarray(confident_joint)
        if confident_joint.shape != (prepared.num_classes,) * 2:
            raise ValueError(f"confident_joint must have shape (K, K) with K={prepared.num_classes}")
    else:
        confident_joint = None
    request = _Request(prepared, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint)
    rows = FILTERS[filter_by](request)
    return rows if filter_by in NOT_REDUCED else prepared.drop_kept(rows)


def find_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: dict | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: list[int] | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`labelaudit.cl.filter.find_label_issues` for single-label inputs (options checked here).

    Returns a bool mask (N,) of the rows of ``labels`` (N,) / ``pred_probs`` (N, K), or their row numbers (M,)
    ranked by ``return_indices_ranked_by``.
    """
    check_options(filter_by, frac_noise, num_to_remove_per_class, confident_joint, stacklevel=4)
    prepared = core.Prepared.from_inputs(labels, pred_probs)
    rows = flagged_rows(
        prepared,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
    )
    if return_indices_ranked_by is not None:
        return rank_rows(prepared, rows, return_indices_ranked_by, rank_by_kwargs)
    mask = np.zeros(prepared.num_rows, dtype=bool)
    mask[rows] = True
    return mask
