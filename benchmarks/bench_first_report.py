"""Time to first report, second audit and bad-input error of the README's first command, with where time goes.

Each repeat makes a scratch project (the bundled definitions and sample, no database, no reports) and runs, as
a new user would, cold CLI processes with the embedded defaults (no PREFECT_API_URL, so each command starts and
stops its own temporary Prefect API server):

1. ``labelaudit audit data/penguins/penguins_batch.csv --dataset penguins`` (the first report; goal 10 s),
2. the same again (the second audit; goal 6 s),
3. ``labelaudit audit data/penguins/penguins_batch.csv --dataset wine`` (a bad input; goal 3 s),

and reads the phases each audit appended to its log file: ``checks`` (definition and paths, before anything is
started), ``source_checks`` (the source's columns, while the server boots), ``imports`` (the flow, GX,
scikit-learn, while the server boots), ``api_wait`` (what is left of the server's start), ``flow``, ``shutdown``
(stopping the server), and ``outside`` (interpreter start, CLI import, printing the summary, exit). One warm-up
round, on a new Prefect database, is run first and reported apart (a brand-new user's very first run also pays
Prefect's migrations).
``--local-server`` measures the same with ``labelaudit server start`` running (the long-lived server option).

    python benchmarks/bench_first_report.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOALS = {"first report": 10.0, "second audit": 6.0, "bad input": 3.0}
COMMAND = [sys.executable, "-m", "labelaudit.flows.cli", "audit", "data/penguins/penguins_batch.csv"]


def timed(command: list[str], cwd: Path, env: dict[str, str], expected: int) -> tuple[float, dict[str, float]]:
    """Wall seconds of ``command`` and the phases its log reports (empty for a command that wrote none)."""
    run_id = f"bench-{time.time_ns()}"
    started = time.perf_counter()
    done = subprocess.run([*command, "--run-id", run_id], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != expected:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, expected {expected}:\n{done.stderr[-2000:]}")
    log = cwd / "labelaudit-logs" / f"{run_id}.log"
    phases: dict[str, float] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            if line.startswith("labelaudit phases: "):
                phases = {k: v for k, v in json.loads(line.removeprefix("labelaudit phases: ")).items() if k != "api"}
    if phases:
        phases["outside"] = elapsed - sum(phases.values())  # interpreter start, CLI import, summary, exit
    return elapsed, phases


def one_round(env: dict[str, str]) -> dict[str, tuple[float, dict[str, float]]]:
    scratch = Path(tempfile.mkdtemp(prefix="labelaudit-bench-"))
    try:
        shutil.copytree(REPO / "expectations", scratch / "expectations")
        shutil.copytree(REPO / "data" / "penguins", scratch / "data" / "penguins")
        return {
            "first report": timed([*COMMAND, "--dataset", "penguins"], scratch, env, 0),
            "second audit": timed([*COMMAND, "--dataset", "penguins"], scratch, env, 0),
            "bad input": timed([*COMMAND, "--dataset", "wine"], scratch, env, 2),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--local-server", action="store_true", help="with `labelaudit server start` running")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="labelaudit-bench-prefect-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELAUDIT_", "PREFECT_API_URL"))}
    env |= {"PREFECT_HOME": str(home), "PYTHONPATH": str(REPO)}
    if args.local_server:
        port = str(4200 + os.getpid() % 500)
        subprocess.run([*COMMAND[:3], "server", "start", "--port", port], env=env, check=True, capture_output=True)
    try:
        warm = one_round(env)
        rounds = [one_round(env) for _ in range(args.repeat)]
    finally:
        if args.local_server:
            subprocess.run([*COMMAND[:3], "server", "stop"], env=env, check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    print(f"warm-up (new Prefect database): first report {warm['first report'][0]:.2f} s")
    for name, goal in GOALS.items():
        values = [r[name][0] for r in rounds]
        median = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        ratio = f"{median / goal:.2f}x the {goal:g} s goal"
        print(f"{name:>13}: median {median:.2f} s over {len(values)} runs ({runs}); {ratio}")
        phase_names = list(rounds[0][name][1])
        if phase_names:
            split = ", ".join(
                f"{p} {statistics.median(r[name][1].get(p, 0.0) for r in rounds):.2f}" for p in phase_names
            )
            print(f"{'':>15}phases (medians, s): {split}")


if __name__ == "__main__":
    main()
