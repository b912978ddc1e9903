"""Near duplicates and outliers: labelaudit against cleanlab Datalab on the same features (issue 14).

Data: Gaussian clusters in ``--dims`` dimensions with injected near duplicates (copies nudged by 1e-3) and
outliers (pushed 12 units from their row); both tools get the same standardised matrix and k = 10. Reports the
median time of ``--repeats`` runs, the peak of Python-tracked memory (tracemalloc, one extra run), the flagged
counts, precision/recall against the injected truth, the Jaccard index of the two flagged sets per issue, and the
Spearman correlation of the two outlier scores (both: lower = more outlying).

Examples::

    python benchmarks/bench_data_issues.py --quick
    python benchmarks/bench_data_issues.py --rows 10000 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy.stats import spearmanr

from labelaudit.data_issues.near_duplicates import find_near_duplicates
from labelaudit.data_issues.outliers import find_outliers
from labelaudit.features.neighbours import nearest_neighbours


def generate(rows: int, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray, set[int], set[int]]:
    rng = np.random.default_rng(seed)
    base = rows - rows // 50
    centres = rng.normal(0, 3, size=(8, dims))
    values = centres[rng.integers(0, 8, base)] + rng.normal(size=(base, dims))
    originals = rng.choice(base, rows - base, replace=False)
    copies = values[originals] + rng.normal(0, 1e-3, size=(rows - base, dims))
    values = np.vstack([values, copies])
    near = set(originals.tolist()) | set(range(base, rows))
    candidates = np.setdiff1d(np.arange(base), originals)
    far = rng.choice(candidates, rows // 100, replace=False)
    directions = rng.normal(size=(len(far), dims))
    values[far] += 12 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    values = (values - values.mean(0)) / values.std(0)
    labels = rng.integers(0, 3, rows)
    return values.astype(np.float32), labels, near, set(far.tolist())


def ours(matrix: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    distances, indices = nearest_neighbours(matrix, 10)
    ids = np.arange(len(matrix))
    near = find_near_duplicates(distances, indices, row_ids=ids, run_id="bench")
    far = find_outliers(distances, row_ids=ids, run_id="bench")
    flags = {"near": near["is_issue"].to_numpy(), "outlier": far["is_issue"].to_numpy()}
    return {**flags, "score": far["score"].to_numpy()}


def datalab(matrix: np.ndarray, labels: np.ndarray, metric: str | None = "euclidean") -> dict[str, np.ndarray]:
    """Datalab with our metric (Euclidean); ``metric=None`` is its default, cosine above 3 dimensions."""
    from cleanlab import Datalab

    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    options = {"k": 10, "metric": metric} if metric else {"k": 10}
    lab.find_issues(features=matrix, issue_types={"near_duplicate": options, "outlier": options})
    near, far = lab.get_issues("near_duplicate"), lab.get_issues("outlier")
    return {
        "near": near["is_near_duplicate_issue"].to_numpy(),
        "outlier": far["is_outlier_issue"].to_numpy(),
        "score": far["outlier_score"].to_numpy(),
    }


def measure(tool: Callable, matrix: np.ndarray, labels: np.ndarray, repeats: int) -> tuple[float, float, dict]:
    times, result = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        result = tool(matrix, labels)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    tool(matrix, labels)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, result


def _pr(flags: np.ndarray, truth: set[int]) -> str:
    found = set(np.flatnonzero(flags).tolist())
    hits = len(found & truth)
    return f"{len(found):>5} P {hits / max(len(found), 1):.2f} R {hits / len(truth):.2f}"


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3,000 rows, 1 repeat")
    parser.add_argument("--no-cosine", action="store_true", help="skip Datalab's default (cosine) metric: slow")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = [3_000], 1
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, dims {args.dims}, k 10, median of {args.repeats}")
    for rows in args.rows:
        matrix, labels, near, far = generate(rows, args.dims, seed=0)
        results = {}
        tools = [("labelaudit", ours), ("datalab", datalab), ("dl-cosine", lambda m, y: datalab(m, y, None))]
        for name, tool in tools[:2] if args.no_cosine else tools:
            seconds, peak, result = measure(tool, matrix, labels, args.repeats)
            results[name] = result
            print(
                f"{rows:>8} {name:<10} {seconds:>7.2f} s  peak {peak:>7.0f} MiB  "
                f"near {_pr(result['near'], near)}  outlier {_pr(result['outlier'], far)}"
            )
        a = results["labelaudit"]
        for name, b in results.items():
            if name == "labelaudit":
                continue
            rho = spearmanr(a["score"], b["score"]).statistic
            print(
                f"{rows:>8} vs {name:<10} near Jaccard {_jaccard(a['near'], b['near']):.3f}  "
                f"outlier Jaccard {_jaccard(a['outlier'], b['outlier']):.3f}  outlier score Spearman {rho:.4f}"
            )


if __name__ == "__main__":
    main()
