"""Labeler profiles: exact small tables, a simulated pool with known truth, and input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from labelaudit.errors import InputDataError
from labelaudit.pipeline.labeler_profiles import annotation_matrix, profile_labelers, route_classes
from tests.labelers.simulate import simulated_pool

CLASSES = ["a", "b"]
ITEMS = ["i1", "i2", "i3", "i4"]


def _annotations(rows):
    return pd.DataFrame(rows, columns=["id", "annotator", "label"])


# ------------------------------------------------------------------------------------------------------------
# Small exact fixture
# ------------------------------------------------------------------------------------------------------------

SMALL = _annotations(
    [
        ("i1", "ann", "a"), ("i1", "bob", "a"), ("i1", "cy", "a"),
        ("i2", "ann", "b"), ("i2", "bob", "b"), ("i2", "cy", "a"),
        ("i3", "ann", "a"), ("i3", "bob", "a"), ("i3", "cy", "b"),
        ("i4", "ann", "b"),
    ]
)  # fmt: skip
SMALL_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])


@pytest.fixture
def small():
    return profile_labelers(SMALL, SMALL_PROBS, item_ids=ITEMS, classes=CLASSES, min_volume=1)


def test_items_report_majority_and_consensus(small):
    items = small.items.set_index("item_id")
    assert items["num_annotations"].tolist() == [3, 3, 3, 1]
    assert items["majority_label"].tolist() == ["a", "b", "a", "b"]
    assert items["majority_agreement"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1])
    assert items["consensus_label"].tolist() == ["a", "b", "a", "b"]
    assert items["consensus_is_majority"].all()


def test_annotators_volume_agreement_and_error_rate(small):
    table = small.annotators.set_index("annotator").sort_index()
    assert table["volume"].tolist() == [4, 3, 3]
    assert table["volume_shared"].tolist() == [3, 3, 3]
    assert table["agreement"].tolist() == pytest.approx([1, 1, 1 / 3])
    assert table["estimated_error_rate"].tolist() == pytest.approx([0, 0, 2 / 3])
    assert small.annotators["annotator"].iloc[-1] == "cy"  # worst CROWDLAB quality last


def test_annotator_classes_count_by_consensus_class(small):
    cy = small.annotator_classes.set_index(["annotator", "class"]).loc["cy"]
    # cy: i1 a->a, i2 consensus b said a, i3 consensus a said b
    assert cy["volume"].tolist() == [2, 1]
    assert cy["given_volume"].tolist() == [2, 1]
    assert cy["true_positives"].tolist() == [1, 0]
    assert cy["agreement"].tolist() == pytest.approx([0.5, 0.0])
    assert cy["precision"].tolist() == pytest.approx([0.5, 0.0])
    assert cy["f1"].tolist() == pytest.approx([0.5, 0.0])


def test_confusions_list_given_against_consensus(small):
    cy = small.confusions[small.confusions["annotator"] == "cy"]
    assert sorted(zip(cy["given"], cy["consensus"], cy["count"], strict=True)) == [("a", "b", 1), ("b", "a", 1)]
    assert set(small.confusions["annotator"]) == {"cy"}


def test_routing_rule_is_shrunk_f1():
    classes = pd.DataFrame(
        {
            "annotator": ["p", "q", "r"],
            "class": ["a", "a", "a"],
            "volume": [3, 100, 2],
            "given_volume": [3, 100, 2],
            "true_positives": [3, 90, 2],
            "f1": [1.0, 0.9, 1.0],
        }
    )
    annotators = pd.DataFrame({"annotator": ["p", "q", "r"], "agreement": [0.6, 0.9, 1.0]})
    routing = route_classes(classes, annotators, min_volume=3, prior_strength=10)
    assert routing["annotator"].tolist() == ["q", "p", "r"]
    assert routing["score"].tolist() == pytest.approx([(180 + 9) / 210, (6 + 6) / 16, (4 + 10) / 14])
    assert routing["rank"].tolist() == [1, 2, pd.NA]
    assert routing["eligible"].tolist() == [True, True, False]


# ------------------------------------------------------------------------------------------------------------
# Simulated pool: accurate annotators and confusers who write "fox" for "dog"
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    return simulated_pool(seed=0)


@pytest.fixture(scope="module")
def pool_profiles(pool):
    return profile_labelers(pool.annotations, pool.pred_probs, item_ids=pool.item_ids, classes=pool.classes)


def test_pool_ranking_follows_true_accuracy(pool, pool_profiles):
    table = pool_profiles.annotators.set_index("annotator")
    truth = pool.true_accuracy.reindex(table.index)
    # measured on seed 0: 0.976 for crowdlab_quality and for 1 - estimated_error_rate
    assert spearmanr(table["crowdlab_quality"], truth).statistic >= 0.9
    assert spearmanr(-table["estimated_error_rate"], truth).statistic >= 0.9


def test_pool_confused_pair_is_identified(pool, pool_profiles):
    true_class, written = pool.confused_pair
    top = pool_profiles.confusions[pool_profiles.confusions["rank"] == 1].set_index("annotator")
    for annotator in pool.confusers:
        assert (top.loc[annotator, "given"], top.loc[annotator, "consensus"]) == (written, true_class)
        assert top.loc[annotator, "rate"] > 0.4
    accurate = top.drop(index=pool.confusers)
    assert (accurate["rate"] < 0.25).all()


def test_pool_routing_avoids_confusers_only_where_they_confuse(pool, pool_profiles):
    routing = pool_profiles.routing[pool_profiles.routing["eligible"]]

    def ranked(name):
        return routing[routing["class"] == name]["annotator"].tolist()

    true_class, written = pool.confused_pair
    confusers = set(pool.confusers)
    assert set(ranked(true_class)[-len(confusers) :]) == confusers  # they miss dogs: last
    assert set(ranked(written)[:3]) == {"acc0", "acc1", "acc2"}  # they over-call fox: below the good ones
    assert confusers <= set(ranked("cat")[:5])  # elsewhere they are 95 % right: above acc3, acc4
    worst = pool_profiles.annotators.set_index("annotator").loc[pool.confusers, "worst_class"]
    assert set(worst) == {pool.confused_pair[0]}


# ------------------------------------------------------------------------------------------------------------
# Degenerate pools and input checks
# ------------------------------------------------------------------------------------------------------------


def test_one_label_per_item_falls_back_to_the_given_labels():
    annotations = _annotations([("i1", "ann", "a"), ("i2", "bob", "b"), ("i3", "ann", "b"), ("i4", "bob", "b")])
    profiles = profile_labelers(annotations, SMALL_PROBS, item_ids=ITEMS, classes=CLASSES)
    assert profiles.items["consensus_label"].tolist() == ["a", "b", "b", "b"]
    assert profiles.items["consensus_quality_score"].tolist() == pytest.approx([0.9, 0.8, 0.3, 0.6])
    table = profiles.annotators.set_index("annotator").sort_index()
    assert table["crowdlab_quality"].tolist() == pytest.approx([0.6, 0.7])
    assert table["estimated_error_rate"].isna().all()  # nobody shares an item: no evidence


def test_a_single_annotator_works():
    annotations = _annotations([("i1", "ann", "a"), ("i3", "ann", "b")])
    profiles = profile_labelers(annotations, SMALL_PROBS, item_ids=ITEMS, classes=CLASSES)
    assert profiles.items["item_id"].tolist() == ["i1", "i3"]
    assert profiles.annotators["volume"].tolist() == [2]


def test_class_never_annotated_gets_empty_rows():
    profiles = profile_labelers(
        SMALL, np.c_[SMALL_PROBS * 0.9, np.full(4, 0.1)], item_ids=ITEMS, classes=[*CLASSES, "c"], min_volume=1
    )
    never = profiles.annotator_classes[profiles.annotator_classes["class"] == "c"]
    assert never["volume"].eq(0).all() and never["agreement"].isna().all()
    assert not profiles.routing[profiles.routing["class"] == "c"]["eligible"].any()


def test_latest_annotation_wins_with_a_timestamp():
    annotations = _annotations([("i1", "ann", "a"), ("i1", "ann", "b"), ("i1", "bob", "a")])
    annotations["at"] = ["2026-01-02", "2026-01-01", "2026-01-01"]
    matrix = annotation_matrix(annotations, item_ids=ITEMS, classes=CLASSES, timestamp_column="at")
    assert matrix.codes.loc["i1"].tolist() == [0.0, 0.0]
    assert matrix.positions.tolist() == [0]


@pytest.mark.parametrize(
    ("rows", "match", "bad_rows"),
    [
        ([("i1", "ann", "a"), ("i9", "ann", "a")], "not in the batch", [2]),
        ([("i1", "ann", "a"), ("i2", "ann", "zebra")], "zebra", [2]),
        ([("i1", "ann", "a"), ("i2", "ann", "b"), ("i1", "ann", "b")], "twice", [1, 3]),
        ([("i1", "ann", "a"), ("i2", None, "b")], "annotator is empty", [2]),
    ],
)
def test_bad_annotations_name_the_rows(rows, match, bad_rows):
    with pytest.raises(InputDataError, match=match) as caught:
        annotation_matrix(_annotations(rows), item_ids=ITEMS, classes=CLASSES)
    assert caught.value.rows == bad_rows


def test_probabilities_must_match_items_and_classes():
    with pytest.raises(ValueError, match="shape"):
        profile_labelers(SMALL, SMALL_PROBS[:3], item_ids=ITEMS, classes=CLASSES)
