"""Label drift: no false alarm on same-distribution batches, an alarm on a shifted mix, new and vanished classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.drift import DEFAULT_ALPHA, label_drift

CLASSES = np.array(["a", "b", "c", "d"])
HISTORY_MIX = np.array([0.4, 0.3, 0.2, 0.1])


def _counts(rng: np.random.Generator, n: int, mix: np.ndarray) -> pd.Series:
    return pd.Series(rng.choice(CLASSES, n, p=mix)).value_counts()


def test_by_hand() -> None:
    drift = label_drift({"a": 50, "b": 50}, {"a": 500, "b": 500})

    assert drift.psi == pytest.approx(0.0)
    assert drift.p_value == pytest.approx(1.0)
    assert not drift.is_drift and drift.gated_psi == 0.0
    shifted = label_drift({"a": 90, "b": 10}, {"a": 500, "b": 500})
    expected_psi = (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    assert shifted.psi == pytest.approx(expected_psi)
    assert shifted.is_drift and shifted.gated_psi == pytest.approx(expected_psi)


@pytest.mark.parametrize("batch_rows", [200, 2000, 20000])
def test_same_distribution_batches_raise_no_false_alarm_over_20_seeds(batch_rows: int) -> None:
    """At the documented level (alpha 0.01 and PSI > 0.1), none of 20 batches drawn like the history drifts."""
    alarms = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        history = _counts(rng, 20000, HISTORY_MIX)
        drift = label_drift(_counts(rng, batch_rows, HISTORY_MIX), history)
        alarms.append(drift.is_drift)
        assert drift.psi < 0.1
    assert not any(alarms)


@pytest.mark.parametrize("seed", range(5))
def test_a_shifted_mix_trips_the_alarm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    history = _counts(rng, 20000, HISTORY_MIX)
    drift = label_drift(_counts(rng, 500, np.array([0.2, 0.2, 0.3, 0.3])), history)

    assert drift.p_value < DEFAULT_ALPHA and drift.psi > 0.1 and drift.is_drift


def test_new_vanished_and_merely_absent_classes() -> None:
    history = {"a": 5000, "b": 4000, "c": 990, "rare": 10}
    batch = {"a": 600, "b": 390, "new": 10}

    drift = label_drift(batch, history)

    assert drift.new_classes == ["new"]
    assert drift.vanished_classes == ["c"]  # 10% of history: missing from 1000 rows by chance is ~0
    status = drift.classes.set_index("label")["status"].to_dict()
    assert status == {"a": "kept", "b": "kept", "c": "vanished", "rare": "absent", "new": "new"}
    assert np.isfinite(drift.psi) and drift.is_drift  # PSI stays finite thanks to the epsilon floor


def test_without_history_nothing_is_tested() -> None:
    drift = label_drift({"a": 3}, {})

    assert np.isnan(drift.p_value) and np.isnan(drift.psi) and not drift.is_drift and drift.new_classes == []


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        label_drift({"a": -1}, {"a": 3})
    with pytest.raises(ValueError, match="alpha"):
        label_drift({"a": 1}, {"a": 3}, alpha=1.5)
