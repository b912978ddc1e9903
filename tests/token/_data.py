"""Generated token-classification problems and the cleanlab 2.9 oracle (stable selection sorts)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
from cleanlab.token_classification import filter as cl_filter
from cleanlab.token_classification import rank as cl_rank
from cleanlab.token_classification import summary as cl_summary

from tests.cl._oracle import stable_cleanlab

__all__ = ["cl_filter", "cl_rank", "cl_summary", "oracle", "token_data"]

VOCABULARY = [f"w{i}" for i in range(30)]


def token_data(sentences, k, *, max_length=12, signal=3.0, noise=0.1, dtype=np.float64, tied=False, seed=0):
    """Softmax per-token probabilities around true classes, `noise` of token labels changed, and token texts."""
    rng = np.random.default_rng(seed)
    labels, probs, tokens = [], [], []
    for _ in range(sentences):
        length = int(rng.integers(1, max_length + 1))
        true = rng.integers(0, k, length)
        logits = rng.standard_normal((length, k))
        logits[np.arange(length), true] += signal
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        if tied:
            p = rng.multinomial(5, p) / 5
        given = np.where(rng.random(length) < noise, rng.integers(0, k, length), true)
        labels.append(given.tolist())
        probs.append(p.astype(dtype))
        tokens.append([VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), length)])
    return labels, probs, tokens


def oracle(func, *args, **kwargs):
    """A cleanlab function with warnings silenced, its prints discarded and stable selection sorts."""
    import contextlib
    import io

    saved = cl_rank.np
    cl_rank.np = _stable_numpy()  # issues_from_scores ranks with numpy's default (unstable) argsort
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            with stable_cleanlab():
                return func(*args, **kwargs)
    finally:
        cl_rank.np = saved


def _stable_numpy():
    from tests.cl._oracle import _StableNumpy

    return _StableNumpy()
