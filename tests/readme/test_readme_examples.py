"""The README's examples, run as written from a fresh folder (issue 16, "Done when").

The commands are read from README.md at test time (``tests/readme/readme.py``): change the README and this test
runs the new text. Each command is either run, as a real subprocess of the installed ``labelaudit`` console
script in a fresh folder holding only copies of ``expectations/`` and ``data/`` (plus the own-data files the
README names, ``tests/readme/user_files.py``), or listed in :data:`SKIPPED` with the reason it cannot run here.
A README command that is neither fails :func:`test_every_readme_command_is_run_or_skipped_with_a_reason`.

The commands run with the test session's environment, whose ``PREFECT_API_URL`` points at the session's Prefect
server (``tests/conftest.py``), so none starts a server of its own; ``LABELAUDIT_*`` variables are removed, so
the README's defaults (``./labelaudit.duckdb``, ``./reports/``) are what is exercised.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.readme.readme import README, Example, argv, examples, split_chain, split_comment
from tests.readme.user_files import write_user_files

REPO = Path(__file__).resolve().parents[2]
RUN_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b")
PLACEHOLDER = "<run-id>"  # substituted with the run id the previous command printed, as a reader would

#: README commands that are not run, and why. Each rule must match a README command (no stale rules).
SKIPPED: dict[str, str] = {
    r"^pip install\b": "installs labelaudit: the test session already runs the installed checkout",
    r"^python -m pytest\b": "runs the test suite, which this test is part of",
    r"^labelaudit server start\b": (
        "starts a long-lived Prefect server in the background; the session's own API server (PREFECT_API_URL) "
        "stands in for it"
    ),
    r"^labelaudit server stop\b": "stops the server of `labelaudit server start`, which is not started here",
    r"^labelaudit serve\b": "serves the deployments until stopped (long-lived); tests/infra run `serve`",
    r"^labelaudit score .*--address tcp://scheduler": (
        "needs a bucket and a Dask scheduler of the reader's; tests/scale/test_cli.py runs --address against a "
        "cluster it starts"
    ),
}

#: Exit statuses the README states in its prose (every other command: 0). Each with the README's own words,
#: which must still be in the README.
EXIT_STATUS: dict[str, tuple[int, str]] = {
    r"^labelaudit audit .*penguins_noisy\.csv": (1, "is rejected with exit status 1"),
    r"^labelaudit audit .*--dataset penguins_crowd\b": (1, "so that audit is rejected"),
    r"^labelaudit audit .*penguins_week2\.csv": (1, "so week 2 is rejected with exit status 1"),
}

_TIMEOUT = 900  # seconds for one command: an audit on a busy 2-core machine takes well under a minute


def skip_reason(example: Example) -> str | None:
    for pattern, reason in SKIPPED.items():
        if re.search(pattern, example.text):
            return reason
    return None


def unrunnable(example: Example) -> str | None:
    """Why a command that is not skipped cannot be run by this test (None: it can)."""
    _, words = argv(example.text.replace(PLACEHOLDER, "RUNID"))
    if not words or words[0] != "labelaudit":
        return "not a labelaudit command: run it here, or list it in SKIPPED with the reason"
    other = re.findall(r"<[^>]+>", example.text.replace(PLACEHOLDER, ""))
    if other:
        return f"placeholder {other[0]} has no value to substitute: teach the test, or list it in SKIPPED"
    return None


def _normalised_readme() -> str:
    return " ".join(README.read_text(encoding="utf-8").split())


def test_every_readme_command_is_run_or_skipped_with_a_reason() -> None:
    found = examples()
    assert len(found) >= 10, f"README parsing found only {len(found)} commands: {found}"
    problems = [f"{e.where()}: {unrunnable(e)}" for e in found if not skip_reason(e) and unrunnable(e)]
    unused = [p for p in SKIPPED if not any(re.search(p, e.text) for e in found)]
    problems += [f"SKIPPED rule {p!r} matches no README command any more: remove it" for p in unused]
    readme = _normalised_readme()
    problems += [f"EXIT_STATUS cites {words!r}, no longer in the README" for _, words in EXIT_STATUS.values()
                 if words not in readme]  # fmt: skip
    assert not problems, "\n".join(problems)


# -- running them -------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    example: Example
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        tail = (self.stdout[-1500:] + "\n--- stderr ---\n" + self.stderr[-2500:]).strip()
        return f"{self.example.where()}\n  exit status {self.returncode}\n{tail}"


@dataclass
class Session:
    """The fresh folder the README's commands run in, and what they printed so far."""

    folder: Path
    env: dict[str, str]
    run_ids: list[str] = field(default_factory=list)
    runs_by_dataset: dict[str, list[str]] = field(default_factory=dict)
    reviewed: set[str] = field(default_factory=set)  # datasets whose reviews were imported
    problems: list[str] = field(default_factory=list)

    def run(self, example: Example) -> Outcome | None:
        text = example.text
        if PLACEHOLDER in text:
            if not self.run_ids:
                self.problems.append(f"{example.where()}: no earlier command printed a run id for {PLACEHOLDER}")
                return None
            text = text.replace(PLACEHOLDER, self.run_ids[-1])
        extra_env, words = argv(text)
        words[0] = _console_script()
        _before(self.folder, words)
        done = subprocess.run(
            words, cwd=self.folder, env={**self.env, **extra_env}, capture_output=True, text=True,
            timeout=_TIMEOUT, check=False,
        )  # fmt: skip
        outcome = Outcome(example, words, done.returncode, done.stdout, done.stderr)
        self._remember_runs(outcome)
        return outcome

    def _remember_runs(self, outcome: Outcome) -> None:
        ids = [i for i in dict.fromkeys(RUN_ID.findall(outcome.stdout)) if i not in self.run_ids]
        self.run_ids.extend(ids)
        if outcome.argv[1:3] == ["review", "import"] and outcome.returncode == 0:
            run = outcome.argv[outcome.argv.index("--run") + 1]
            self.reviewed.update(d for d, runs in self.runs_by_dataset.items() if run in runs)
        if outcome.argv[1] in ("audit", "score") and "--dataset" in outcome.argv:
            dataset = outcome.argv[outcome.argv.index("--dataset") + 1]
            self.runs_by_dataset.setdefault(dataset, []).extend(ids)


def _console_script() -> str:
    """The ``labelaudit`` script installed beside this Python (the checkout's editable install)."""
    beside = Path(sys.executable).parent / "labelaudit"
    found = str(beside) if beside.exists() else shutil.which("labelaudit")
    assert found, "the labelaudit console script is not installed: pip install -e '.[test]'"
    return found


def _before(folder: Path, words: list[str]) -> None:
    """What a person does between two README commands: a reviewer fills in the sheet before it is imported."""
    if words[1:3] == ["review", "import"]:
        _review(folder / words[3], folder / "data" / "penguins" / "penguins_clean.csv")


def _review(sheet_path: Path, truth_path: Path) -> None:
    """Fill in verdicts from the true species: ``error`` (with the true label) when the given label was wrong."""
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    truth = pd.read_csv(truth_path, dtype=str).set_index("penguin_id")["species"]
    wrong = sheet["given"] != sheet["id"].map(truth)
    sheet["verdict"] = wrong.map({True: "error", False: "correct"})
    sheet["corrected_label"] = sheet["id"].map(truth).where(wrong, "")
    sheet.to_csv(sheet_path, index=False)


# -- what each command must have done ------------------------------------------------------------------------------


def expected_status(example: Example) -> int:
    for pattern, (status, _) in EXIT_STATUS.items():
        if re.search(pattern, example.text):
            return status
    return 0


def _verdict(outcome: Outcome) -> tuple[str | None, str | None]:
    """The verdict and report path a run command printed (plain or ``--json``)."""
    if "--json" in outcome.argv:
        summary = json.loads(outcome.stdout)
        return summary.get("verdict"), summary.get("report")
    verdict = re.search(r"^verdict\s+(\S+)", outcome.stdout, re.M)
    report = re.search(r"^report\s+(\S+)", outcome.stdout, re.M)
    return (verdict and verdict.group(1)), (report and report.group(1))


def check_run(outcome: Outcome, folder: Path) -> list[str]:
    """An audit or score: the verdict its exit status means, its report on disk, and the README's claims."""
    verdict, report = _verdict(outcome)
    wanted = "accepted" if outcome.returncode == 0 else "rejected"
    problems = [] if verdict == wanted else [f"prints verdict {verdict!r}, expected {wanted!r}"]
    if not report or not (folder / report).is_file():
        problems.append(f"its report {report!r} is not a file under the folder")
    claim = re.search(r"\b(accepted|rejected)\b", outcome.example.comment)
    if claim and claim.group(1) != verdict:
        problems.append(f"the README says {claim.group(1)}, the command printed verdict {verdict!r}")
    flagged = re.search(r"(\d[\d,]*) (?:rows|sentences) flagged", outcome.example.comment)
    printed = re.search(r"flagged (\d+)", outcome.stdout)
    if flagged and (not printed or printed.group(1) != flagged.group(1).replace(",", "")):
        problems.append(f"the README says {flagged.group(0)}, the command printed {printed and printed.group(0)!r}")
    return problems


def _line_pattern(line: str) -> re.Pattern[str]:
    """An example output line as a pattern: any run id, any folder for the README's ``/path/to/``."""
    pieces = [re.escape(piece).replace(re.escape("/path/to/"), "/.*/") for piece in RUN_ID.split(line.strip())]
    return re.compile(RUN_ID.pattern.join(pieces) + "$")


def check_example_output(outcome: Outcome) -> list[str]:
    """Every line of the README's example output (``...`` elides lines) printed, in order."""
    printed = [line.strip() for line in outcome.stdout.splitlines()]
    position = 0
    for line in outcome.example.output:
        if line.strip() in ("", "..."):
            continue
        pattern = _line_pattern(line)
        hits = [i for i in range(position, len(printed)) if pattern.match(printed[i])]
        if not hits:
            return [f"example output line {line.strip()!r} was not printed (in order)"]
        position = hits[0] + 1
    return []


def check_listing(outcome: Outcome, session: Session) -> list[str]:
    """``runs`` lists every run of the dataset made so far; ``flagged`` at most ``--limit`` rows."""
    words = outcome.argv
    if words[1] == "runs" and "--dataset" in words:
        made = session.runs_by_dataset.get(words[words.index("--dataset") + 1], [])
        missing = [run for run in made if run not in outcome.stdout]
        return [f"does not list runs {missing}"] if missing or not made else []
    if words[1] == "flagged":
        limit = int(words[words.index("--limit") + 1]) if "--limit" in words else 20
        rows = [line for line in outcome.stdout.splitlines()[1:] if line.strip()]
        return [] if 0 < len(rows) <= limit else [f"lists {len(rows)} rows for --limit {limit}"]
    return []


def check_files(outcome: Outcome, folder: Path) -> list[str]:
    """Commands that write a file (``init``, ``export``, ``review export``) wrote it; an import stored verdicts."""
    words = outcome.argv
    if words[1] == "init":
        dataset = words[words.index("--dataset") + 1]
        wanted = [folder / "expectations" / dataset / f"{name}.json" for name in ("dataset", "suite", "quality")]
        return [f"did not write {p.name}" for p in wanted if not p.is_file()]
    if "--output" in words:
        written = folder / words[words.index("--output") + 1]
        return [] if written.is_file() else [f"did not write {written.name}"]
    if words[1:3] == ["review", "import"]:
        return [] if re.search(r"stored [1-9]\d* verdicts", outcome.stdout) else ["stored no verdicts"]
    return []


def check_review_stats(outcome: Outcome, session: Session) -> list[str]:
    """After reviews were imported, the README's ``review stats`` shows them (the dataset they were of)."""
    if outcome.argv[1:3] != ["review", "stats"] or not session.reviewed:
        return []
    counted = re.search(r"^(\d+) verdicts for (\S+)", outcome.stdout, re.M)
    if counted and int(counted.group(1)) > 0:
        return []
    return [f"shows no verdicts, though the reviews just imported were of dataset {sorted(session.reviewed)}"]


def check(outcome: Outcome, session: Session) -> list[str]:
    status = expected_status(outcome.example)
    if outcome.returncode != status:
        return [f"exit status {outcome.returncode}, expected {status}"]
    problems = ["printed a traceback"] if "Traceback (most recent call last)" in outcome.stderr else []
    if outcome.argv[1] in ("audit", "score"):
        problems += check_run(outcome, session.folder)
    if outcome.example.output:
        problems += check_example_output(outcome)
    problems += check_listing(outcome, session) + check_files(outcome, session.folder)
    return problems + check_review_stats(outcome, session)


# -- the test -----------------------------------------------------------------------------------------------------


def _fresh_folder(root: Path) -> Path:
    """A folder as a user has it: copies of the repository's expectations/ and data/, and their own files."""
    folder = root / "fresh"
    shutil.copytree(REPO / "expectations", folder / "expectations")
    shutil.copytree(REPO / "data", folder / "data", ignore=shutil.ignore_patterns("__pycache__"))
    write_user_files(folder)
    return folder


def _session_env(api_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LABELAUDIT_")}
    assert env.get("PREFECT_API_URL") == api_url, "the commands must use the session's Prefect API server"
    return env


def test_readme_examples_run_as_written(tmp_path: Path, prefect_api: str) -> None:
    session = Session(_fresh_folder(tmp_path), _session_env(prefect_api))
    ran = 0
    for example in examples():
        if skip_reason(example) or unrunnable(example):
            continue  # the reasons are checked by test_every_readme_command_is_run_or_skipped_with_a_reason
        outcome = session.run(example)
        if outcome is None:
            continue
        ran += 1
        session.problems += [f"{p}\n{outcome.describe()}" for p in check(outcome, session)]
    folder = session.folder
    for name in ("labelaudit.duckdb", "reports"):  # the README's defaults, in the folder the commands ran in
        if not (folder / name).exists():
            session.problems.append(f"the default {name} is not in the folder the commands ran in")
    missing_logs = [r for r in session.run_ids if not (folder / "labelaudit-logs" / f"{r}.log").is_file()]
    if missing_logs:
        session.problems.append(f"no labelaudit-logs/<run id>.log for runs {missing_logs}")
    assert ran >= 10, f"only {ran} README commands ran"
    assert not session.problems, "\n\n".join(session.problems)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip install -e . && labelaudit runs", ["pip install -e .", "labelaudit runs"]),
        (
            'labelaudit audit "duckdb:///w.duckdb?query=a && b" # a && b',
            ['labelaudit audit "duckdb:///w.duckdb?query=a && b"'],
        ),
    ],
)
def test_chains_and_comments_are_split_outside_quotes(command: str, expected: list[str]) -> None:
    assert split_chain(split_comment(command)[0]) == expected
