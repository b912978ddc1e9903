"""Labels and values from user data reach the HTML report as text, never as markup."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import Project
from tests.flow.helpers import run_cli

pytestmark = pytest.mark.slow

HOSTILE = "<script>alert('label')</script>"


def test_script_label_is_escaped_in_the_report(project: Project) -> None:
    frame = pd.read_csv(project.data / "penguins" / "penguins_noisy.csv", dtype={"penguin_id": "str"})
    frame["species"] = frame["species"].replace({"Chinstrap": HOSTILE})
    frame.loc[0, "island"] = '"><img src=x onerror=alert(1)>'
    source = project.root / "hostile.csv"
    frame.to_csv(source, index=False)
    init = run_cli(project, "init", str(source), "--dataset", "hostile", "--label", "species", "--id", "penguin_id")
    assert init.exit_code == 0, init.stderr

    result = run_cli(project, "audit", str(source), "--dataset", "hostile", "--json", "--no-data-docs")

    assert result.exit_code in (0, 1), result.stderr
    html = next((project.reports / "hostile").glob("*/index.html")).read_text()
    assert HOSTILE not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html or "\\u003cscript\\u003e" in html
