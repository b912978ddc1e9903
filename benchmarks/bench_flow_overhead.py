"""What the Prefect flow costs over calling the library's stages directly, on the same 100k-row batch.

Both sides do the same work on the same generated batch (``benchmarks/synthetic.py``: ``make_classification``,
20 features, 4 classes, 10 % of labels flipped): ingest, schema validation (GX), label preparation, a 5-fold
plan, the folds fitted in parallel threads (the flow's ``ThreadPoolTaskRunner`` vs a ``ThreadPoolExecutor``,
both one thread per CPU with one BLAS thread per fold), storage of the probabilities, confident-learning
scoring, labeler profiles, the gate, the run's verdict and the HTML report; each run into a fresh DuckDB
file, without Data Docs. The flow adds its task runs, state reports to the Prefect API, result persistence
of the folds, and the artifacts. Fold caching is switched off (``PREFECT_TASKS_REFRESH_CACHE``) so the flow
really fits; a cached re-run is timed separately. Without ``PREFECT_API_URL`` the flow uses Prefect's
temporary server, started by a warm-up run that is not timed. Runs alternate (direct, flow, direct, ...) and
the medians are compared.

    python benchmarks/bench_flow_overhead.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_batch


def run_direct(source: str, dataset: str, expectations: Path, database: Path, reports: Path) -> str:
    """The audit as plain library calls, in the flow's order (no Prefect)."""
    from threadpoolctl import threadpool_limits

    from labelaudit.inputs.definition import load_dataset
    from labelaudit.models.crossval import fit_fold
    from labelaudit.pipeline import fit, ingest, labels, validate
    from labelaudit.pipeline.gate import judge_batch
    from labelaudit.pipeline.labelers import profile_run_labelers
    from labelaudit.pipeline.score import score_multiclass
    from labelaudit.report import publish_run
    from labelaudit.review.feedback import dataset_verdicts
    from labelaudit.store import AuditStore
    from labelaudit.store.database import utcnow

    store = AuditStore(database)
    bundle = load_dataset(expectations, dataset)
    run_id = store.begin_run(dataset=dataset, source=source, params={})
    batch = ingest.ingest(store, run_id, source, bundle)
    validate.validate(store, run_id, batch, bundle)
    labels_in = labels.prepare_labels(store, run_id, batch, bundle, None, dataset_verdicts(store, dataset))
    batch, bundle = labels_in.batch, labels_in.bundle
    inputs = fit.prepare_fit(store, run_id, batch, bundle, precomputed=False)
    n = inputs.plan.n_folds
    workers = os.cpu_count() or 1  # as the flow: one thread per CPU, one BLAS thread per fold
    with ThreadPoolExecutor(max_workers=workers) as pool, threadpool_limits(limits=1 if workers > 1 else None):
        results = list(
            pool.map(
                lambda k: fit_fold(batch.frame, inputs.labels, len(inputs.classes), inputs.plan, k, bundle.definition),
                range(n),
            )
        )
    probs, metrics = fit.store_fit(store, run_id, inputs.started, results, inputs.labels, inputs.classes)
    log_loss = float(metrics.loc[metrics["fold"].isna(), "log_loss"].iloc[0])
    scored = score_multiclass(store, run_id, batch, inputs.labels, probs, inputs.classes, bundle, oof_log_loss=log_loss)
    profile_run_labelers(store, run_id, labels_in, probs, inputs.classes)
    verdict = judge_batch(store, run_id, scored, bundle)
    store.finish_run(run_id, status="completed" if verdict.passed else "rejected", verdict=verdict.verdict,
                     message=verdict.message())  # fmt: skip
    started = utcnow()
    published = publish_run(store, run_id, destination=str(reports))
    store.set_report_path(run_id, published.location, started_at=started)
    return run_id


def run_flow(source: str, dataset: str, expectations: Path, database: Path, reports: Path) -> str:
    from labelaudit.flows.audit import audit

    state = audit(
        dataset=dataset, source=source, database=str(database), reports=str(reports),
        expectations=str(expectations), data_docs=False, return_state=True,
    )  # fmt: skip
    if not (state.is_completed() or "batch rejected" in (state.message or "")):
        raise SystemExit(f"the flow failed: {state.message}")
    return state.message


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each, after one warm-up of each")
    parser.add_argument("--folder", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="labelaudit-bench-overhead-"))
    batch = make_batch(folder, args.rows)
    source, dataset = str(batch.csv), batch.dataset

    def paths(tag: str) -> tuple[Path, Path]:
        return folder / f"{tag}.duckdb", folder / f"reports-{tag}"

    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

    with temporary_settings(updates={PREFECT_TASKS_REFRESH_CACHE: True}):
        run_flow(source, dataset, batch.expectations, *paths("warm-flow"))  # starts Prefect's temporary API
        run_direct(source, dataset, batch.expectations, *paths("warm-direct"))
        direct, flow = [], []
        for i in range(args.repeat):
            direct.append(timed(run_direct, source, dataset, batch.expectations, *paths(f"direct-{i}")))
            flow.append(timed(run_flow, source, dataset, batch.expectations, *paths(f"flow-{i}")))
    cached_db, cached_reports = paths("cached")
    run_flow(source, dataset, batch.expectations, cached_db, cached_reports)
    cached = timed(run_flow, source, dataset, batch.expectations, cached_db, cached_reports)

    d, f = statistics.median(direct), statistics.median(flow)
    print(f"rows {args.rows}, {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"library stages directly: median {d:.2f} s ({', '.join(f'{v:.2f}' for v in direct)})")
    print(f"audit flow (Prefect):    median {f:.2f} s ({', '.join(f'{v:.2f}' for v in flow)})")
    print(f"flow overhead: {100 * (f - d) / d:+.1f} % ({f - d:+.2f} s) between the medians")
    # on a shared machine the medians move with other jobs' load: two steadier views of the same runs
    paired = statistics.median((fl - di) / di for di, fl in zip(direct, flow, strict=True))
    best = (min(flow) - min(direct)) / min(direct)
    print(f"  median of the paired runs' overhead: {100 * paired:+.1f} %; best run vs best run: {100 * best:+.1f} % "
          f"({min(flow) - min(direct):+.2f} s)")  # fmt: skip
    print(f"flow re-run with the folds cached: {cached:.2f} s")


if __name__ == "__main__":
    main()
