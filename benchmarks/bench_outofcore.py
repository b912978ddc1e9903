"""Out-of-core confident learning: 100M rows x 10 classes of float32 probabilities in Parquet, bounded memory.

Usage::

    python benchmarks/bench_outofcore.py                      # 100M x 10 (~4 GB Parquet under /tmp)
    python benchmarks/bench_outofcore.py --rows 2000000 --check   # quick run, compared with the in-memory path

Steps: (1) generate the file in 1M-row blocks (not timed; reused if present with the same size); (2) score it in
a fresh child process with :func:`labelaudit.cl.outofcore.confident_learning_summary_out_of_core`, writing per-row
results to Parquet; the child prints its wall time and its peak RSS (``getrusage`` ``ru_maxrss``, the whole
process: Python, numpy, pyarrow buffers). ``--check`` also runs the in-memory path and compares every output.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BLOCK = 1_000_000


def generate(path: Path, rows: int, classes: int, *, signal: float = 3.0, noise: float = 0.1, seed: int = 0) -> None:
    """Write `rows` x `classes` float32 softmax probabilities plus a noisy ``label`` column, block by block."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("label", pa.int16())] + [(f"p{j}", pa.float32()) for j in range(classes)])
    with pq.ParquetWriter(str(path), schema, compression="none") as writer:
        for start in range(0, rows, BLOCK):
            n = min(BLOCK, rows - start)
            true = rng.integers(0, classes, n)
            logits = rng.standard_normal((n, classes), dtype=np.float32)
            logits[np.arange(n), true] += signal
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=1, keepdims=True)
            labels = true.copy()
            flip = np.flatnonzero(rng.random(n) < noise)
            labels[flip] = (true[flip] + rng.integers(1, classes, len(flip))) % classes
            columns = [pa.array(labels.astype(np.int16))] + [pa.array(logits[:, j]) for j in range(classes)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def score(source: Path, output: Path) -> dict:
    """Run in the child: score out of core, return timing, peak RSS and the summary's headline numbers."""
    from labelaudit.cl.outofcore import confident_learning_summary_out_of_core

    start = time.perf_counter()
    summary = confident_learning_summary_out_of_core(source, output, workdir=source.parent)
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "num_issues": summary.num_issues,
        "rows": summary.num_rows,
        "confident_joint_diag": np.diagonal(summary.confident_joint).tolist(),
    }


def check(source: Path, output: Path) -> str:
    """Compare the written rows and the summary with the in-memory path (only for data that fits)."""
    from labelaudit.cl.filter import confident_learning_summary
    from labelaudit.cl.outofcore import confident_learning_summary_out_of_core

    table = pq.read_table(source)
    labels = table.column("label").to_numpy()
    probs = np.column_stack([table.column(n).to_numpy() for n in table.column_names if n != "label"])
    expected = confident_learning_summary(labels, probs)
    summary = confident_learning_summary_out_of_core(source, output)
    rows = pq.read_table(output)
    same = (
        np.array_equal(rows.column("is_label_issue").to_numpy(), expected.issue_mask)
        and np.array_equal(rows.column("label_quality").to_numpy(), expected.label_quality.astype(np.float64))
        and np.array_equal(rows.column("suggested_label").to_numpy(), expected.suggested_label)
        and np.array_equal(summary.confident_joint, expected.confident_joint)
        and np.array_equal(summary.noise_matrix, expected.noise_matrix)
        and summary.num_issues == expected.num_issues
    )
    return "identical to the in-memory path" if same else "DIFFERENT from the in-memory path"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/labelaudit-bench"))
    parser.add_argument("--check", action="store_true", help="also compare with the in-memory path (small N)")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(score(Path(args.child[0]), Path(args.child[1]))))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    source = args.dir / f"probs_{args.rows}x{args.classes}.parquet"
    output = args.dir / f"results_{args.rows}x{args.classes}.parquet"
    if not source.exists() or pq.ParquetFile(source).metadata.num_rows != args.rows:
        began = time.perf_counter()
        generate(source, args.rows, args.classes)
        print(f"generated {source} ({source.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - began:.0f} s")
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(source), str(output)], capture_output=True, text=True, check=True
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"scored {result['rows']:,} rows x {args.classes} out of core: wall {result['seconds']:.1f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, {result['num_issues']:,} label issues; "
        f"results in {output} ({output.stat().st_size / 1e9:.2f} GB)"
    )
    if args.check:
        print(check(source, output))


if __name__ == "__main__":
    main()
