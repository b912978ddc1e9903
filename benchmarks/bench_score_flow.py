"""`labelaudit score` end to end on one big table of probabilities: wall time and peak memory of the CLI.

Usage::

    python benchmarks/bench_score_flow.py                      # 20M rows x 10 classes (~1 GB Parquet under /tmp)
    python benchmarks/bench_score_flow.py --rows 2000000       # quick run
    python benchmarks/bench_score_flow.py --memory-budget 1GiB

Steps: (1) generate the table in 1M-row blocks — a string id, the given label as a class name (10 % moved to
another class) and one float32 probability column per class — not timed, reused if present with the same size;
(2) write a dataset definition naming the classes; (3) run ``labelaudit score`` as a child process, with its own
database and reports folder, sampling every 0.1 s the resident memory of the child and of its whole process tree
(the CLI starts a temporary Prefect server as a grandchild); the child's own peak is also read exactly from
``wait4``'s ``ru_maxrss``. It prints the wall time, the peaks, the stage timings from ``run_stages``, and the
size of the database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BLOCK = 1_000_000


def generate(path: Path, rows: int, classes: list[str], *, signal: float = 3.0, noise: float = 0.1) -> None:
    """Write the table block by block (memory: one block)."""
    rng = np.random.default_rng(0)
    k = len(classes)
    names = np.asarray(classes, dtype=object)
    schema = pa.schema([("id", pa.string()), ("label", pa.string())] + [(c, pa.float32()) for c in classes])
    with pq.ParquetWriter(str(path), schema) as writer:
        for start in range(0, rows, BLOCK):
            n = min(BLOCK, rows - start)
            true = rng.integers(0, k, n)
            logits = rng.standard_normal((n, k), dtype=np.float32)
            logits[np.arange(n), true] += signal
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=1, keepdims=True)
            labels = true.copy()
            flip = np.flatnonzero(rng.random(n) < noise)
            labels[flip] = (true[flip] + rng.integers(1, k, len(flip))) % k
            ids = pa.array(np.char.add("row-", np.arange(start, start + n).astype(str)))
            columns = [ids, pa.array(names[labels], type=pa.string())] + [pa.array(logits[:, j]) for j in range(k)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def run(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``command``; wall time, exit code, peaks of the process and of its tree (MB)."""
    peaks = {"self": 0, "tree": 0}
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks["self"] = max(peaks["self"], _rss_kb(child.pid))
            peaks["tree"] = max(peaks["tree"], sum(_rss_kb(p) for p in _tree(child.pid)))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_text = child.stdout.read()
    err_text = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": elapsed,
        "exit_code": child.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "sampled_self_mb": peaks["self"] / 1024,
        "sampled_tree_mb": peaks["tree"] / 1024,
        "stdout": out_text,
        "stderr": err_text,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/labelaudit-bench-score"))
    parser.add_argument("--memory-budget", default="2GiB")
    args = parser.parse_args(argv)
    classes = [f"class_{j}" for j in range(args.classes)]
    args.dir.mkdir(parents=True, exist_ok=True)
    source = args.dir / f"probs_{args.rows}x{args.classes}.parquet"
    if not source.exists() or pq.ParquetFile(source).metadata.num_rows != args.rows:
        began = time.perf_counter()
        generate(source, args.rows, classes)
        print(f"generated {source} ({source.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - began:.0f} s")
    project = args.dir / f"project_{args.rows}x{args.classes}"
    definition = project / "expectations" / "bench"
    definition.mkdir(parents=True, exist_ok=True)
    (definition / "dataset.json").write_text(
        json.dumps({"name": "bench", "label_column": "label", "id_column": "id", "classes": classes})
    )
    (definition / "suite.json").write_text(json.dumps({"name": "bench", "expectations": []}))
    (definition / "quality.json").write_text(json.dumps({"max_label_error_rate": 0.5}))
    database = project / "audit.duckdb"
    database.unlink(missing_ok=True)
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [
        sys.executable, "-m", "labelaudit.flows.cli", "score", str(source), "--dataset", "bench", "--json",
        "--memory-budget", args.memory_budget, "--db", str(database), "--reports", str(project / "reports"),
        "--expectations", str(project / "expectations"),
    ]  # fmt: skip
    result = run(command, env)
    if result["exit_code"] != 0:
        print(result["stderr"][-4000:], file=sys.stderr)
        raise SystemExit(f"labelaudit score exited with {result['exit_code']}")
    summary = json.loads(result["stdout"])
    print(
        f"labelaudit score, {args.rows:,} rows x {args.classes} classes ({source.stat().st_size / 1e9:.2f} GB "
        f"Parquet), memory budget {args.memory_budget}: wall {result['seconds']:.1f} s; peak RSS of the CLI "
        f"process {result['peak_rss_mb']:.0f} MB (sampled {result['sampled_self_mb']:.0f} MB; whole process "
        f"tree incl. the temporary Prefect server {result['sampled_tree_mb']:.0f} MB)"
    )
    print(
        f"  verdict {summary['verdict']}, {summary['flagged_rows']:,} flagged, estimated error rate "
        f"{summary['estimated_error_rate']:.4f}, scoring_path {summary['scoring_path']}; database "
        f"{database.stat().st_size / 1e9:.2f} GB"
    )
    for stage in summary["stages"]:
        print(f"  {stage['stage']:<9} {stage['seconds'] or 0:7.1f} s  {stage['message'] or ''}"[:160])


if __name__ == "__main__":
    main()
