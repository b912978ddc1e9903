"""Generated multi-annotator data with known truth, for parity and profile tests (built per call, seeded)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Pool:
    annotations: pd.DataFrame  # long: id, annotator, label (class names)
    pred_probs: np.ndarray  # (N, K)
    item_ids: list[str]
    classes: list[str]
    truth: np.ndarray  # (N,) class index
    true_accuracy: pd.Series  # by annotator: share of their labels equal to the truth
    confusers: list[str]
    confused_pair: tuple[str, str]  # (true class, class they write instead)


def simulated_pool(
    seed: int = 0,
    *,
    n_items: int = 1500,
    accuracies: tuple[float, ...] = (0.97, 0.92, 0.87, 0.68, 0.6),
    n_confusers: int = 3,
    per_item: int = 3,
    model_strength: float = 1.5,
) -> Pool:
    """Accurate annotators err at random; confusers are accurate except that they write class b for class a
    (with probability 0.7). Each item is labelled by ``per_item`` random annotators; a few by only one."""
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "fox", "owl"]
    k = len(classes)
    truth = rng.integers(0, k, n_items)
    names = [f"acc{i}" for i in range(len(accuracies))] + [f"conf{i}" for i in range(n_confusers)]
    rows = []
    for item in range(n_items):
        count = 1 if item % 10 == 0 else per_item
        for who in rng.choice(len(names), count, replace=False):
            label = truth[item]
            if who < len(accuracies):
                if rng.random() > accuracies[who]:
                    label = (label + rng.integers(1, k)) % k
            elif label == 1 and rng.random() < 0.7:
                label = 2
            elif rng.random() > 0.95:
                label = (label + rng.integers(1, k)) % k
            rows.append((f"item{item:05d}", names[who], classes[label], label == truth[item]))
    frame = pd.DataFrame(rows, columns=["id", "annotator", "label", "right"])
    logits = rng.normal(size=(n_items, k)) + model_strength * np.eye(k)[truth]
    pred_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Pool(
        annotations=frame.drop(columns="right"),
        pred_probs=pred_probs,
        item_ids=[f"item{i:05d}" for i in range(n_items)],
        classes=classes,
        truth=truth,
        true_accuracy=frame.groupby("annotator")["right"].mean(),
        confusers=names[len(accuracies) :],
        confused_pair=("dog", "fox"),
    )


def wide_labels(
    seed: int,
    *,
    n_items: int = 400,
    n_annotators: int = 6,
    n_classes: int = 4,
    coverage: float = 0.55,
    unused_class: bool = False,
    tie_heavy: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, M) labels with NaN for missing, and (N, K) probabilities, in cleanlab's wide layout.

    Every item has a label (about one in ten only one), every annotator at least one; the last annotator
    labels exactly one item. ``unused_class`` keeps the last class out of all labels; ``tie_heavy`` rounds
    the probabilities so majority-vote and posterior ties occur.
    """
    rng = np.random.default_rng(seed)
    k_used = n_classes - 1 if unused_class else n_classes
    truth = rng.integers(0, k_used, n_items)
    accuracy = rng.uniform(0.55, 0.95, n_annotators)
    wrong = rng.random((n_items, n_annotators)) > accuracy
    noise = (truth[:, None] + rng.integers(1, k_used, (n_items, n_annotators))) % k_used
    labels = np.where(wrong, noise, truth[:, None]).astype(float)
    labels[rng.random((n_items, n_annotators)) > coverage] = np.nan
    labels[:, -1] = np.nan
    labels[0, -1] = truth[0]
    single = np.isnan(labels).all(axis=1) | (np.arange(n_items) % 10 == 0)
    first = rng.integers(0, n_annotators - 1, n_items)
    labels[single, :-1] = np.nan
    labels[single, first[single]] = truth[single]
    labels[0, :] = np.nan
    labels[0, [0, 1, -1]] = truth[0]
    logits = rng.normal(size=(n_items, n_classes)) + 1.5 * np.eye(n_classes)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if tie_heavy:
        probs = np.round(probs, 1) + 1e-3
        probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs
