"""Speed and memory of labelaudit's find_label_issues against cleanlab 2.9, on the same generated data.

Usage::

    python benchmarks/bench_cl_speed.py                      # N=1M with K=10 and K=100, 5 repeats
    python benchmarks/bench_cl_speed.py --sizes 100000x10 --repeats 3 --dtype float64

For each size it prints medians over interleaved repeats: one pass over the array (``pred_probs.max(axis=1)``,
the physical floor), ours (numba kernels, and the numpy reference kernels), cleanlab with ``n_jobs=1`` and
with its default ``n_jobs``; the speed ratios; our time over the floor; the peak extra memory (tracemalloc,
which tracks numpy buffers; cleanlab's worker processes under the default ``n_jobs`` are not seen, so memory is
compared at ``n_jobs=1``); and whether the masks agree (exactly, or only at rows tied at a cut-off, checked by
re-running cleanlab with stable sorts).
cleanlab is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
import warnings

import numpy as np

from labelaudit.cl.filter import find_label_issues


def make_problem(n: int, k: int, *, signal: float, noise: float, seed: int = 0, dtype=np.float32):
    """Softmax of N(0, 1) logits with `signal` added at the true class; `noise` of labels moved to another class.

    Generated in blocks so a 1M x 100 float32 problem needs no float64 temporaries of full size.
    """
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    probs = np.empty((n, k), dtype=dtype)
    step = 100_000
    for start in range(0, n, step):
        stop = min(start + step, n)
        logits = rng.standard_normal((stop - start, k), dtype=np.float32)
        logits[np.arange(stop - start), true[start:stop]] += signal
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        probs[start:stop] = logits
    labels = true.copy()
    flip = np.flatnonzero(rng.random(n) < noise)
    labels[flip] = (true[flip] + rng.integers(1, k, len(flip))) % k
    return labels, probs, true


def _timed(func) -> float:
    gc.collect()
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _peak_extra_bytes(func) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        func()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _cleanlab(labels, probs, *, n_jobs, stable=False):
    import cleanlab.filter

    class _StableNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def argsort(a, *args, **kwargs):
            kwargs.setdefault("kind", "stable")
            return np.argsort(a, *args, **kwargs)

    saved = cleanlab.filter.np
    if stable:
        cleanlab.filter.np = _StableNumpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cleanlab.filter.find_label_issues(labels, probs, n_jobs=n_jobs)
    finally:
        cleanlab.filter.np = saved


def _without_jit(call):
    """Run `call` with labelaudit's numpy reference kernels instead of the numba ones."""
    os.environ["LABELAUDIT_NO_JIT"] = "1"
    try:
        return call()
    finally:
        del os.environ["LABELAUDIT_NO_JIT"]


def _agreement(ours, theirs, labels, probs) -> str:
    differing = int((ours != theirs).sum())
    if differing == 0:
        return "identical"
    stable_equal = np.array_equal(ours, _cleanlab(labels, probs, n_jobs=1, stable=True))
    return f"{differing} rows differ, {'all' if stable_equal else 'NOT all'} at exact ties"


def bench(n: int, k: int, *, repeats: int, dtype, signal: float, noise: float) -> dict:
    labels, probs, true = make_problem(n, k, signal=signal, noise=noise, dtype=dtype)
    runs = {"floor": [], "ours": [], "ours_numpy": [], "cleanlab_1": [], "cleanlab_default": []}
    calls = {
        "floor": lambda: probs.max(axis=1),
        "ours": lambda: find_label_issues(labels, probs),
        "ours_numpy": lambda: _without_jit(lambda: find_label_issues(labels, probs)),
        "cleanlab_1": lambda: _cleanlab(labels, probs, n_jobs=1),
        "cleanlab_default": lambda: _cleanlab(labels, probs, n_jobs=None),
    }
    for call in calls.values():  # warm-up: imports, page faults, cleanlab's worker pool start-up code
        call()
    for _ in range(repeats):
        for name, call in calls.items():
            runs[name].append(_timed(call))
    med = {name: statistics.median(times) for name, times in runs.items()}
    ours_mask = find_label_issues(labels, probs)
    mem_ours = _peak_extra_bytes(lambda: find_label_issues(labels, probs))
    mem_cleanlab = _peak_extra_bytes(lambda: _cleanlab(labels, probs, n_jobs=1))
    return {
        "size": f"{n:,} x {k} {np.dtype(dtype).name}",
        "accuracy": float((probs.argmax(axis=1) == true).mean()),
        "flagged": int(ours_mask.sum()),
        **med,
        "mem_ours": mem_ours,
        "mem_cleanlab": mem_cleanlab,
        "agree_1": _agreement(ours_mask, _cleanlab(labels, probs, n_jobs=1), labels, probs),
        "agree_default": _agreement(ours_mask, _cleanlab(labels, probs, n_jobs=None), labels, probs),
    }


def report(row: dict) -> str:
    mb = 1 << 20
    return "\n".join(
        [
            f"== {row['size']} (model accuracy {row['accuracy']:.3f}, {row['flagged']:,} flagged)",
            f"  one pass (max axis=1)  {row['floor']:8.3f} s",
            f"  labelaudit             {row['ours']:8.3f} s   = {row['ours'] / row['floor']:.2f} x one pass",
            f"  labelaudit, no numba   {row['ours_numpy']:8.3f} s   = "
            f"{row['ours_numpy'] / row['floor']:.2f} x one pass "
            f"(numba saves {1 - row['ours'] / row['ours_numpy']:.0%})",
            f"  cleanlab n_jobs=1      {row['cleanlab_1']:8.3f} s   "
            f"ours is {row['cleanlab_1'] / row['ours']:.1f}x faster",
            f"  cleanlab default       {row['cleanlab_default']:8.3f} s   "
            f"ours is {row['cleanlab_default'] / row['ours']:.1f}x faster",
            f"  peak extra memory      ours {row['mem_ours'] / mb:.1f} MB, cleanlab(n_jobs=1) "
            f"{row['mem_cleanlab'] / mb:.1f} MB  -> ratio {row['mem_ours'] / row['mem_cleanlab']:.3f}",
            f"  masks vs cleanlab      n_jobs=1: {row['agree_1']}; default: {row['agree_default']}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1000000x10", "1000000x100"], help="NxK, e.g. 1000000x10")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats; medians are printed")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--signal", type=float, default=None, help="logit added at the true class")
    parser.add_argument("--noise", type=float, default=0.1, help="fraction of labels flipped")
    args = parser.parse_args(argv)
    for size in args.sizes:
        n, k = (int(part) for part in size.lower().split("x"))
        signal = args.signal if args.signal is not None else (3.0 if k <= 20 else 4.0)
        print(report(bench(n, k, repeats=args.repeats, dtype=np.dtype(args.dtype), signal=signal, noise=args.noise)))


if __name__ == "__main__":
    main()
