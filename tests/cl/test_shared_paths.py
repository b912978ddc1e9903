"""Tests and benchmarks find the shared folder as ``../shared/`` from the repository root, never through one
machine's absolute path, and say clearly when it is absent (issue 16)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ABSOLUTE_SHARED = re.compile(r"""["'](/work|/home|/root|/Users)/[^"']*shared""")


def test_no_test_or_benchmark_names_an_absolute_shared_path():
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("tests", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ABSOLUTE_SHARED.search(line)
    ]
    assert offenders == []


def test_validation_tests_read_imdb_from_the_shared_folder_beside_the_repository():
    from tests.cl import test_validation

    expected = REPO.parent / "shared" / "benchmarks" / "label-errors" / "imdb"
    assert expected == test_validation.IMDB


def _benchmark():
    spec = importlib.util.spec_from_file_location("bench_real", REPO / "benchmarks" / "bench_real_label_errors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_label_error_benchmark_defaults_to_the_shared_folder():
    expected = REPO.parent / "shared" / "benchmarks" / "label-errors"
    assert expected == _benchmark().DEFAULT_DATA


def test_real_label_error_benchmark_skips_with_a_reason_when_the_data_is_absent(tmp_path):
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_real_label_errors.py"), "--data", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert f"skipped: no label-error data at {missing}" in done.stderr + done.stdout
