"""The whole audit flow against cleanlab's ``CleanLearning.find_label_issues`` on the same 100k-row batch.

One process, the same generated data (``benchmarks/synthetic.py``: ``make_classification``, 20 features,
4 classes, 10 % of labels flipped), the same model (the pipeline ``labelaudit.models.crossval.build_pipeline`` builds
from the inferred definition: scaling + ``LogisticRegression(max_iter=2000)``) and the same folds (5,
stratified, shuffled, seed 0).

- cleanlab: ``CleanLearning(clf, cv_n_folds=5, seed=0).find_label_issues(X, y)``, i.e. cross-validated
  fitting and scoring only, on a DataFrame already in memory.
- labelaudit: the ``audit`` flow from the CSV file: ingest, GX schema validation, parallel folds, scoring,
  DuckDB storage of every row, gate, HTML report and Prefect artifacts (no Data Docs; fold cache off).

Runs alternate after one warm-up of each; the ratio of the medians is printed (below 1: the full audit is
faster than cleanlab's fitting and scoring alone). For reference cleanlab is also timed with its BLAS limited to
one thread (the flow runs its folds in parallel threads with one BLAS thread each; cleanlab fits them one after
another with the library defaults, and OpenBLAS's threads slow this small-matrix fit down). Needs ``cleanlab``
(a test/benchmark-only dependency).

    python benchmarks/bench_vs_cleanlearning.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import SyntheticBatch, make_batch


def run_cleanlearning(batch: SyntheticBatch) -> set[str]:
    from cleanlab.classification import CleanLearning

    from labelaudit.inputs.definition import load_dataset
    from labelaudit.models.crossval import build_pipeline

    definition = load_dataset(batch.expectations, batch.dataset).definition
    x = batch.frame[definition.feature_names]
    classes = sorted(batch.frame["label"].unique())
    y = batch.frame["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    issues = CleanLearning(build_pipeline(definition), cv_n_folds=5, seed=definition.seed).find_label_issues(x, y)
    return set(batch.frame["row_id"][issues["is_label_issue"].to_numpy()])


def run_audit(batch: SyntheticBatch, database: Path, reports: Path) -> str:
    from labelaudit.flows.audit import audit

    state = audit(
        dataset=batch.dataset, source=str(batch.csv), database=str(database), reports=str(reports),
        expectations=str(batch.expectations), folds=5, data_docs=False, return_state=True,
    )  # fmt: skip
    if not (state.is_completed() or "batch rejected" in (state.message or "")):
        raise SystemExit(f"the flow failed: {state.message}")
    return state.message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each, after one warm-up of each")
    parser.add_argument("--folder", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="labelaudit-bench-cl-"))
    batch = make_batch(folder, args.rows)

    import duckdb
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
    from threadpoolctl import threadpool_limits

    flow_times, cl_times, cl_one_blas = [], [], []
    with temporary_settings(updates={PREFECT_TASKS_REFRESH_CACHE: True}):
        run_audit(batch, folder / "warm.duckdb", folder / "reports-warm")  # starts Prefect's temporary API
        cl_flagged = run_cleanlearning(batch)
        for i in range(args.repeat):
            started = time.perf_counter()
            cl_flagged = run_cleanlearning(batch)
            cl_times.append(time.perf_counter() - started)
            with threadpool_limits(limits=1):
                started = time.perf_counter()
                run_cleanlearning(batch)
                cl_one_blas.append(time.perf_counter() - started)
            started = time.perf_counter()
            run_audit(batch, folder / f"audit-{i}.duckdb", folder / f"reports-{i}")
            flow_times.append(time.perf_counter() - started)
    with duckdb.connect(str(folder / "audit-0.duckdb"), read_only=True) as con:
        ours = {r[0] for r in con.execute("SELECT row_id FROM flagged_rows").fetchall()}
    truth = set(batch.frame["row_id"][batch.flipped])

    f, c = statistics.median(flow_times), statistics.median(cl_times)
    print(f"rows {args.rows}, 5 folds, {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"cleanlab CleanLearning.find_label_issues: median {c:.2f} s ({', '.join(f'{v:.2f}' for v in cl_times)})")
    print(f"labelaudit audit flow (everything):       median {f:.2f} s ({', '.join(f'{v:.2f}' for v in flow_times)})")
    print(f"ratio audit / cleanlab: {f / c:.2f}")
    c1 = statistics.median(cl_one_blas)
    print(f"for reference, cleanlab with BLAS limited to 1 thread (threadpoolctl): median {c1:.2f} s "
          f"({', '.join(f'{v:.2f}' for v in cl_one_blas)}); ratio {f / c1:.2f}")  # fmt: skip
    for name, found in [("cleanlab", cl_flagged), ("labelaudit", ours)]:
        hits = len(found & truth)
        print(f"{name:>10}: {len(found)} flagged, precision {hits / max(len(found), 1):.3f}, "
              f"recall {hits / len(truth):.3f} of the {len(truth)} flipped labels")  # fmt: skip


if __name__ == "__main__":
    main()
