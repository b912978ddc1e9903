"""``"classifier": "auto"``: the family that fits the data wins, large batches are screened, fixed stays fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.inputs.definition import DatasetDefinition, Feature
from labelaudit.models.crossval import assemble, fit_fold, fold_metrics, plan_folds
from labelaudit.models.selection import MEAN, MEAN_WITHIN, mean_members, resolve, screen


def _definition(columns: list[str], **model) -> DatasetDefinition:
    features = [Feature(name=c, role="numeric") for c in columns]
    return DatasetDefinition(name="t", label_column="label", features=features, folds=3, model=model)


def _fit_all(frame: pd.DataFrame, labels: np.ndarray, definition: DatasetDefinition):
    plan = plan_folds(labels, ["0", "1"], folds=definition.folds, seed=definition.seed)
    return [fit_fold(frame, labels, 2, plan, f, definition) for f in range(plan.n_folds)]


def _xor(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    labels = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return pd.DataFrame(x, columns=["a", "b"]).assign(label=labels.astype(str)), labels


def _sparse_linear(n: int, d: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    # many weak, sparse signals that add up: a linear model pools them, trees split on one at a time
    rng = np.random.default_rng(seed)
    x = rng.binomial(1, 0.05, size=(n, d)).astype(float)
    w = rng.normal(size=d)
    labels = (x @ w > np.median(x @ w)).astype(np.int64)
    columns = [f"x{i}" for i in range(d)]
    return pd.DataFrame(x, columns=columns).assign(label=labels.astype(str)), labels


def test_xor_boundary_picks_a_tree_model() -> None:
    frame, labels = _xor(300, seed=1)
    results = _fit_all(frame, labels, _definition(["a", "b"], classifier="auto"))
    resolved, selection = resolve(results)
    scores = {c.name: c for c in selection.candidates}
    trees = {"hist_gradient_boosting", "random_forest"}
    # the linear model cannot do better than chance on XOR: the choice is not a close call, and it is left out
    # of the mean, which averages only candidates within MEAN_WITHIN of the best accuracy
    assert scores["logistic_regression"].accuracy < 0.65 < scores[selection.chosen].accuracy
    assert scores["logistic_regression"].in_mean is False
    members = {name for name, c in scores.items() if c.in_mean}
    assert selection.chosen in trees or (selection.chosen == MEAN and members == trees)
    assert scores[selection.chosen].accuracy == max(c.accuracy for c in selection.candidates)
    if selection.chosen == MEAN:  # the folds carry the mean of the members' probabilities, which cost their fits
        for before, after in zip(results, resolved, strict=True):
            expected = np.mean([before.candidates.probs[n] for n in sorted(trees)], axis=0)
            np.testing.assert_allclose(after.probs, expected)
        assert scores[MEAN].seconds == pytest.approx(sum(scores[n].seconds for n in trees))
        assert scores[MEAN].in_mean is None


def test_mean_averages_only_the_candidates_close_to_the_best() -> None:
    def figures(**accuracy: float) -> dict[str, dict[str, float]]:
        return {name: {"accuracy": a, "log_loss": 0.5} for name, a in accuracy.items()}

    assert mean_members(figures(logistic_regression=0.90, hist_gradient_boosting=0.89, random_forest=0.85)) == (
        "logistic_regression",
        "hist_gradient_boosting",
    )
    assert mean_members(figures(logistic_regression=0.90, hist_gradient_boosting=0.70, random_forest=0.85)) == ()
    close = figures(logistic_regression=0.90, hist_gradient_boosting=0.90 - MEAN_WITHIN, random_forest=0.895)
    assert len(mean_members(close)) == 3
    assert mean_members(figures(random_forest=0.9)) == ()  # one candidate: a mean of one model is that model


def test_sparse_linear_high_dimensional_picks_logistic_regression() -> None:
    frame, labels = _sparse_linear(400, 50, seed=2)
    results = _fit_all(frame, labels, _definition([f"x{i}" for i in range(50)], classifier="auto"))
    _, selection = resolve(results)
    assert selection.chosen == "logistic_regression"
    table = selection.to_frame()
    # no other candidate comes within MEAN_WITHIN of logistic regression's accuracy: no mean is compared
    assert list(table["name"]) == ["logistic_regression", "hist_gradient_boosting", "random_forest"]
    assert table["chosen"].tolist() == [True, False, False] and not table["in_mean"].any()
    assert (table["seconds"] > 0).all() and table["screened_rows"].isna().all()
    # assemble and fold_metrics use the chosen candidate's probabilities
    probs, _ = assemble(results, len(labels), 2)
    lr = np.concatenate([r.candidates.probs["logistic_regression"] for r in results])
    order = np.concatenate([r.test_rows for r in results])
    np.testing.assert_array_equal(probs[order], lr)
    overall = fold_metrics(results, probs, labels).iloc[-1]
    assert overall["log_loss"] == pytest.approx(table.loc[0, "log_loss"])


def test_fixed_classifier_is_unchanged_and_equals_its_auto_candidate() -> None:
    frame, labels = _xor(150, seed=3)
    fixed = _definition(["a", "b"], classifier="random_forest")
    fixed_results = _fit_all(frame, labels, fixed)
    assert all(r.candidates is None for r in fixed_results)
    assert resolve(fixed_results) == (fixed_results, None)
    auto_results = _fit_all(frame, labels, _definition(["a", "b"], classifier="auto"))
    for f, a in zip(fixed_results, auto_results, strict=True):
        np.testing.assert_array_equal(f.probs, a.candidates.probs["random_forest"])
    # the fold cache key hashes the definition's JSON: a fixed definition dumps exactly as before issue 15
    assert "candidates" not in fixed.model_dump_json() and "flag_rule" not in fixed.model_dump_json()
    assert fixed.model.model_dump() == {"classifier": "random_forest", "params": {}}


def test_large_batch_is_screened_on_a_subsample_and_the_record_says_so() -> None:
    frame, labels = _xor(400, seed=4)
    definition = _definition(["a", "b"], classifier="auto", screen_above=300, screen_rows=120)
    screening = screen(frame, labels, 2, definition)
    assert screening is not None and screening.rows == 120
    assert set(screening.log_loss) == {"logistic_regression", "hist_gradient_boosting", "random_forest"}
    assert "logistic_regression" not in screening.kept and 1 <= len(screening.kept) <= 2
    results = _fit_all(frame, labels, definition)
    assert all(list(r.candidates.probs) == list(screening.kept) for r in results)
    _, selection = resolve(results)
    assert selection.screened_rows == 120 and selection.chosen in (*screening.kept, MEAN)
    lr = next(c for c in selection.candidates if c.name == "logistic_regression")
    assert lr.log_loss is None and lr.seconds is None
    assert lr.screen_log_loss == pytest.approx(screening.log_loss["logistic_regression"])


def test_small_batch_is_not_screened() -> None:
    frame, labels = _xor(100, seed=5)
    assert screen(frame, labels, 2, _definition(["a", "b"], classifier="auto")) is None


def test_auto_refuses_params_and_fixed_refuses_candidates() -> None:
    with pytest.raises(ValueError, match="params set one fixed classifier"):
        _definition(["a"], classifier="auto", params={"C": 2.0})
    with pytest.raises(ValueError, match="candidates is only used with classifier 'auto'"):
        _definition(["a"], classifier="random_forest", candidates=["random_forest"])


def test_text_features_leave_gradient_boosting_out() -> None:
    from labelaudit.models.candidates import candidate_names

    definition = DatasetDefinition(
        name="t", label_column="label", features=[Feature(name="body", role="text")], model={"classifier": "auto"}
    )
    assert candidate_names(definition) == ["logistic_regression", "random_forest"]
