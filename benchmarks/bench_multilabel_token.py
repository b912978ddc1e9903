"""Benchmark: labelaudit vs cleanlab 2.9 on generated multi-label and token data, in one process.

For each case both implementations run on the same arrays; the script checks that they flag the same rows
(multi-label) or the same (sentence, token) pairs in the same order (tokens), then prints the median of
``--repeats`` wall-clock runs of each and the ratio cleanlab / labelaudit (> 1 means labelaudit is faster).

    python benchmarks/bench_multilabel_token.py             # default sizes (about a minute)
    python benchmarks/bench_multilabel_token.py --quick     # small sizes, a few seconds

cleanlab runs with ``n_jobs=1`` (its default starts a process pool per one-vs-rest class, which is slower on
this kind of machine); ``--cleanlab-default-jobs`` times its default instead. Generated data is continuous, so
no rows tie at a cut-off and the results must be identical without any tie-rule patch.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def multilabel_data(n: int, k: int, *, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < rng.uniform(0.05, 0.4, k)
    probs = 1 / (1 + np.exp(-(rng.standard_normal((n, k)) + np.where(truth, 2.5, -2.5))))
    given = truth ^ (rng.random((n, k)) < 0.03)
    return [np.flatnonzero(row).tolist() for row in given], probs


def token_data(sentences: int, k: int, *, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 30, sentences)
    true = rng.integers(0, k, lengths.sum())
    logits = rng.standard_normal((lengths.sum(), k))
    logits[np.arange(len(true)), true] += 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    given = np.where(rng.random(len(true)) < 0.05, rng.integers(0, k, len(true)), true)
    cuts = np.cumsum(lengths)[:-1]
    return [row.tolist() for row in np.split(given, cuts)], np.split(probs, cuts)


def median_seconds(func, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def same(a, b) -> bool:
    if isinstance(a, list):
        return a == b
    return np.array_equal(a, b) if a.dtype == bool else bool(np.allclose(a, b, rtol=0, atol=1e-9))


def cases(quick: bool, jobs: dict):
    import cleanlab.multilabel_classification.filter as cl_mf
    import cleanlab.multilabel_classification.rank as cl_mr
    import cleanlab.token_classification.filter as cl_tf
    import cleanlab.token_classification.rank as cl_tr

    from labelaudit.cl import multilabel_classification as ml
    from labelaudit.cl import token_classification as tc

    n, k = (5_000, 8) if quick else (100_000, 20)
    labels, probs = multilabel_data(n, k)
    yield (
        f"multilabel find_label_issues N={n} K={k}",
        lambda: cl_mf.find_label_issues(labels, probs, **jobs),
        lambda: ml.find_label_issues(labels, probs),
    )
    yield (
        f"multilabel get_label_quality_scores N={n} K={k}",
        lambda: cl_mr.get_label_quality_scores(labels, probs),
        lambda: ml.get_label_quality_scores(labels, probs),
    )
    s, k = (2_000, 9) if quick else (20_000, 9)
    t_labels, t_probs = token_data(s, k)
    tokens = sum(len(x) for x in t_labels)
    yield (
        f"token find_label_issues S={s} T={tokens} K={k}",
        lambda: cl_tf.find_label_issues(t_labels, t_probs, **jobs),
        lambda: tc.find_label_issues(t_labels, t_probs),
    )
    yield (
        f"token get_label_quality_scores softmin S={s} T={tokens} K={k}",
        lambda: cl_tr.get_label_quality_scores(t_labels, t_probs, sentence_score_method="softmin")[0],
        lambda: tc.get_label_quality_scores(t_labels, t_probs, sentence_score_method="softmin")[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=3, help="runs per implementation (median reported)")
    parser.add_argument("--cleanlab-default-jobs", action="store_true", help="let cleanlab pick n_jobs")
    args = parser.parse_args()
    jobs = {} if args.cleanlab_default_jobs else {"n_jobs": 1}
    warnings.simplefilter("ignore")
    print(f"{'case':<58} {'cleanlab s':>10} {'ours s':>8} {'ratio':>6}  agree")
    for name, theirs, ours in cases(args.quick, jobs):
        ours()  # warm-up: imports and, when numba is installed, kernel compilation
        cl_seconds, cl_result = median_seconds(theirs, args.repeats)
        our_seconds, our_result = median_seconds(ours, args.repeats)
        agree = same(our_result, cl_result)
        print(f"{name:<58} {cl_seconds:>10.3f} {our_seconds:>8.3f} {cl_seconds / our_seconds:>6.1f}  {agree}")
        if not agree:
            raise SystemExit(f"results differ: {name}")


if __name__ == "__main__":
    main()
