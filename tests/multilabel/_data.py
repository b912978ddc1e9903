"""Generated multi-label problems and the cleanlab 2.9 oracle (stable selection sorts = our tie rule)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.count
from cleanlab.multilabel_classification import dataset as cl_dataset
from cleanlab.multilabel_classification import filter as cl_filter
from cleanlab.multilabel_classification import rank as cl_rank

from tests.cl._oracle import stable_cleanlab

__all__ = ["cl_dataset", "cl_filter", "cl_rank", "cleanlab", "multilabel_data", "oracle"]


def multilabel_data(n, k, *, signal=2.5, noise=0.08, dtype=np.float64, tied=False, absent=None, seed=0):
    """Independent per-class probabilities around a true tag set, and given tags with `noise` of cells flipped.

    `tied` rounds probabilities to tenths (many exact ties); `absent` is a class never given.
    """
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < rng.uniform(0.1, 0.5, k)
    logits = rng.standard_normal((n, k)) + np.where(truth, signal, -signal)
    probs = 1 / (1 + np.exp(-logits))
    if tied:
        probs = np.round(probs, 1)
    given = truth ^ (rng.random((n, k)) < noise)
    if absent is not None:
        given[:, absent] = False
    labels = [np.flatnonzero(row).tolist() for row in given]
    return labels, probs.astype(dtype)


def oracle(func, *args, **kwargs):
    """Call a cleanlab function with n_jobs=1 where it takes it, warnings silenced, stable selection sorts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with stable_cleanlab():
            return func(*args, **kwargs)
