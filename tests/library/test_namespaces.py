"""labelaudit installs nothing under a generic top-level name: a user's own ``tasks.py`` or ``flows/`` is theirs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TASKS = "raise SystemExit('the user tasks.py was imported by labelaudit')\n"
USER_FLOWS = "raise SystemExit('the user flows/ package was imported by labelaudit')\n"
IMPORTS = (
    "import labelaudit.flows.audit, labelaudit.flows.cli, labelaudit.flows.recurring, labelaudit.tasks.fit; "
    "print('imported')"
)


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_no_generic_top_level_package_is_installed(tmp_path: Path) -> None:
    probe = "import importlib.util as u; print([n for n in ('flows', 'tasks') if u.find_spec(n)])"
    done = _run(tmp_path, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_users_tasks_py_and_flows_package_change_nothing(tmp_path: Path) -> None:
    """The usual invoke/Celery ``tasks.py`` and a Prefect user's ``flows/`` beside the command (first on sys.path)."""
    (tmp_path / "tasks.py").write_text(USER_TASKS)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "__init__.py").write_text(USER_FLOWS)
    done = _run(tmp_path, "-c", IMPORTS)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip() == "imported"
    help_text = _run(tmp_path, "-m", "labelaudit.flows.cli", "--help")
    assert help_text.returncode == 0 and "audit" in help_text.stdout, help_text.stderr
