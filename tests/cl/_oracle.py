"""cleanlab 2.9 as the oracle, plus data generators shared by the parity tests.

cleanlab breaks ties at a cut-off with numpy's default (unstable) argsort; ``stable_cleanlab`` runs it with that
one call made stable, which is exactly our documented tie rule, so our results must then be *identical*.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.count
import cleanlab.filter
import cleanlab.rank

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


class _StableNumpy:
    """numpy, except that ``argsort`` defaults to a stable sort."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, *args, **kwargs):
        kwargs.setdefault("kind", "stable")
        return np.argsort(a, *args, **kwargs)


@contextlib.contextmanager
def stable_cleanlab():
    """Patch the selection sorts in cleanlab.filter and cleanlab.rank (not the rounding ones) to be stable."""
    saved = cleanlab.filter.np, cleanlab.rank.np
    cleanlab.filter.np = cleanlab.rank.np = _StableNumpy()
    try:
        yield
    finally:
        cleanlab.filter.np, cleanlab.rank.np = saved


def cl_find(labels, pred_probs, *, stable=True, **kwargs):
    """cleanlab's find_label_issues (n_jobs=1), warnings silenced, optionally with the stable tie rule."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not stable:
            return cleanlab.filter.find_label_issues(labels, pred_probs, n_jobs=1, **kwargs)
        with stable_cleanlab():
            return cleanlab.filter.find_label_issues(labels, pred_probs, n_jobs=1, **kwargs)


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def noisy_data(n, k, *, signal=3.0, noise=0.15, dtype=np.float32, seed=0):
    """Softmax probabilities with `signal` on the true class, and `noise` of labels flipped to another class."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.standard_normal((n, k))
    logits[np.arange(n), true] += signal
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = true.copy()
    flip = np.flatnonzero(rng.random(n) < noise)
    labels[flip] = (true[flip] + rng.integers(1, k, len(flip))) % k
    return labels, probs.astype(dtype)


def tied_data(n, k, *, steps=10, dtype=np.float64, seed=0):
    """Probabilities that are multiples of 1/steps (many exact ties, exact 0s and 1s), labels mostly = argmax."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(steps, rng.dirichlet(np.ones(k) * 0.7, size=n))
    probs = (counts / steps).astype(dtype)
    labels = probs.argmax(axis=1)
    flip = rng.random(n) < 0.3
    labels[flip] = rng.integers(0, k, flip.sum())
    return labels, probs
