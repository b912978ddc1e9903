"""cleanlab 2.9 calls that must work unchanged (issue 16): options by position, the dataset functions'
defaults, the health summary's printout, and ranked ``low_*`` issues scored as cleanlab scores them."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from labelaudit.cl import multilabel_classification as ml
from tests.cl._oracle import stable_cleanlab
from tests.multilabel._data import cl_dataset, cl_filter, multilabel_data, oracle

ml_scorer = pytest.importorskip("cleanlab.internal.multilabel_scorer")
get_onehot_num_classes = pytest.importorskip("cleanlab.internal.multilabel_utils").get_onehot_num_classes


@pytest.fixture(scope="module")
def data():
    return multilabel_data(400, 4, seed=11)


def test_filter_options_by_position_as_in_cleanlab(data):
    labels, probs = data
    positional = ("normalized_margin", {}, "prune_by_class", 0.8, None, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ml.find_label_issues(labels, probs, *positional)
        per_class = ml.find_multilabel_issues_per_class(labels, probs, None, {}, "prune_by_class")
    np.testing.assert_array_equal(ours, oracle(cl_filter.find_label_issues, labels, probs, *positional))
    np.testing.assert_array_equal(
        per_class, oracle(cl_filter.find_multilabel_issues_per_class, labels, probs, None, {}, "prune_by_class")
    )


@pytest.mark.parametrize("filter_by", ("low_self_confidence", "low_normalized_margin"))
@pytest.mark.parametrize("rank_by", ("self_confidence", "normalized_margin"))
@pytest.mark.parametrize("adjust", (False, True))
def test_low_filters_ranked_score_only_the_flagged_rows_each_by_its_own_score(data, filter_by, rank_by, adjust):
    """cleanlab scores only the flagged rows (so an adjustment uses their thresholds) but then pairs the rows,
    sorted by the default score, with scores in row order; we rank each flagged row by its own score."""
    labels, probs = data
    ranking = {"return_indices_ranked_by": rank_by, "rank_by_kwargs": {"adjust_pred_probs": adjust}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ml.find_label_issues(labels, probs, filter_by=filter_by, **ranking)
    flagged = np.flatnonzero(oracle(cl_filter.find_label_issues, labels, probs, filter_by=filter_by))
    indicator, _ = get_onehot_num_classes(labels, probs)
    scorer = ml_scorer.MultilabelScorer(base_scorer=ml_scorer.ClassLabelScorer.from_str(rank_by))
    scores = ml_scorer.get_label_quality_scores(
        indicator[flagged], probs[flagged], method=scorer, base_scorer_kwargs={"adjust_pred_probs": adjust}
    )
    np.testing.assert_array_equal(ours, flagged[np.argsort(scores, kind="stable")])
    theirs = oracle(cl_filter.find_label_issues, labels, probs, filter_by=filter_by, **ranking)
    assert sorted(ours.tolist()) == sorted(theirs.tolist())


@pytest.mark.parametrize(
    "function",
    [
        ml.common_multilabel_issues,
        ml.rank_classes_by_multilabel_quality,
        ml.overall_multilabel_health_score,
        ml.multilabel_health_summary,
    ],
)
def test_dataset_functions_take_keywords_only_as_cleanlab_and_say_what_is_missing(data, function):
    labels, probs = data
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        assert function(labels=labels, pred_probs=probs) is not None
    with pytest.raises(ValueError, match="pred_probs must be given"):
        function(labels=labels)
    with pytest.raises(ValueError, match="labels and pred_probs must be given"):
        function()


def _printed(function, *args, **kwargs):
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("ignore")
        result = function(*args, **kwargs)
    return result, out.getvalue()


def _rows_without_index(printed: str) -> list[str]:
    """Printed lines in sorted order, each without its first word (a table row's position)."""
    return sorted(" ".join(line.split()[1:]) for line in printed.splitlines())


@pytest.mark.parametrize("num_examples", (None, 12_345))
def test_health_summary_prints_as_cleanlab_and_returns_the_same_tables(data, num_examples):
    labels, probs = data
    names = ["cat", "dog", "fox", "owl"]
    ours, printed = _printed(ml.multilabel_health_summary, labels, probs, class_names=names, num_examples=num_examples)
    with stable_cleanlab():
        theirs, printed_theirs = _printed(
            cl_dataset.multilabel_health_summary, labels, probs, class_names=names, num_examples=num_examples
        )
    # cleanlab sorts the tables with pandas' unstable sort: rows of equal rates may come in another order
    banner = printed.split("Overall Class Quality")[0]
    assert banner == printed_theirs.split("Overall Class Quality")[0]
    assert f"{num_examples or len(labels):,} examples" in banner
    assert _rows_without_index(printed) == _rows_without_index(printed_theirs)
    assert ours["overall_multilabel_health_score"] == theirs["overall_multilabel_health_score"]
    for key in ("classes_by_multilabel_quality", "common_multilabel_issues"):
        columns = list(theirs[key].columns)
        mine = ours[key].sort_values(columns).reset_index(drop=True)
        reference = theirs[key].sort_values(columns).reset_index(drop=True)
        assert list(ours[key].columns) == columns and mine.equals(reference), key


def test_health_summary_is_silent_when_not_verbose(data):
    labels, probs = data
    result, printed = _printed(ml.multilabel_health_summary, labels, probs, verbose=False)
    assert printed == "" and set(result) == {
        "overall_multilabel_health_score",
        "classes_by_multilabel_quality",
        "common_multilabel_issues",
    }
