"""Time to first report: the README's first command on a warm machine, and ``labelaudit --help``.

Runs, in a scratch copy of the project (so nothing in the checkout changes), ``labelaudit audit
data/penguins/penguins_batch.csv --dataset penguins`` once to warm caches, then ``--repeat`` more times, and
prints each wall time, the median, and the median against the 15 s goal; the same for ``labelaudit --help``
against its 1 s goal. Prefect runs without a server (its temporary API), as a new user's first run does.

    python benchmarks/bench_first_report.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up run")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="labelaudit-bench-"))
    shutil.copytree(REPO / "expectations", scratch / "expectations")
    shutil.copytree(REPO / "data", scratch / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_") and k != "PREFECT_API_URL"}
    audit = ["labelaudit", "audit", "data/penguins/penguins_batch.csv", "--dataset", "penguins"]
    timed(audit, scratch, env)  # warm-up: first Prefect database, bytecode, page cache
    audits = [timed(audit, scratch, env) for _ in range(args.repeat)]
    helps = [timed(["labelaudit", "--help"], scratch, env) for _ in range(args.repeat)]
    for name, values, goal in [("first report", audits, 15.0), ("--help", helps, 1.0)]:
        median = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        ratio = f"{median / goal:.2f}x the {goal:g} s goal"
        print(f"{name:>13}: median {median:.2f} s over {len(values)} runs ({runs}); {ratio}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
