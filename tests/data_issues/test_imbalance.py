"""Class imbalance: every class below threshold x an even share is named (Datalab names only the rarest)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from labelaudit.data_issues.imbalance import class_imbalance


def test_classes_below_a_tenth_of_an_even_share_are_named() -> None:
    # K = 4, even share 0.25, line at 0.025: 'd' (0.01) and the declared but empty 'e' fall below it
    found = class_imbalance({"a": 600, "b": 300, "c": 90, "d": 10, "e": 0})

    assert found.imbalanced_classes == ["e", "d"]
    assert found.classes["label"].tolist()[:2] == ["e", "d"]  # rarest first
    assert found.min_ratio == 0.0
    assert found.classes.set_index("label").loc["d", "ratio"] == pytest.approx(0.01 * 5)


def test_an_even_batch_has_none_and_the_threshold_moves_the_line() -> None:
    assert class_imbalance({"a": 10, "b": 10}).imbalanced_classes == []
    assert class_imbalance({"a": 10, "b": 10}).min_ratio == pytest.approx(1.0)
    assert class_imbalance({"a": 70, "b": 30}, threshold=0.7).imbalanced_classes == ["b"]


@pytest.mark.parametrize(
    ("mix", "rare"), [([0.6, 0.39, 0.01], "c"), ([0.5, 0.3, 0.2], None), ([0.02, 0.49, 0.49], "a")]
)
def test_agrees_with_cleanlab_datalabs_class_imbalance_rule(mix: list[float], rare: str | None) -> None:
    """Datalab's own issue manager on the same labels (fed the three attributes it reads: the full Datalab
    needs the ``datasets`` package, which is not installed) flags the same rarest class, or none."""
    from cleanlab.datalab.internal.issue_manager.imbalance import ClassImbalanceIssueManager

    names = ["a", "b", "c"]
    labels = np.random.default_rng(0).choice(3, 3000, p=mix)
    datalab = SimpleNamespace(labels=labels, class_names=names, _label_map=dict(enumerate(names)))
    manager = ClassImbalanceIssueManager(datalab)
    manager.find_issues()
    theirs = sorted({names[k] for k in labels[manager.issues["is_class_imbalance_issue"].to_numpy()]})
    ours = class_imbalance({name: int((labels == k).sum()) for k, name in enumerate(names)})

    assert theirs == ([rare] if rare else [])
    assert ours.imbalanced_classes == theirs


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        class_imbalance({"a": 1}, threshold=0)
    with pytest.raises(ValueError, match=">= 0"):
        class_imbalance({"a": -1})
