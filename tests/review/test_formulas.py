"""Review sheets are opened in spreadsheets: formula-like text must not run there, and must import back intact."""

from __future__ import annotations

import pandas as pd
import pytest

from labelaudit.review.export import neutralise_formulas, restore_formulas
from labelaudit.review.feedback import import_verdicts, review_sheet, write_review_sheet
from labelaudit.store import AuditStore
from tests.report.builders import build_run

FORMULA_CLASSES = ["-1", "+1", "@zero"]
#: Ids a reviewer's spreadsheet must neither run nor split: a formula, a carriage return inside and at the end.
SPECIAL_IDS = ['=HYPERLINK("http://evil.example","x")', "a\rb", "=1+2\r", "\ttabbed"]


def test_formula_like_text_is_neutralised_and_restored_on_import(tmp_path) -> None:
    sheet = pd.DataFrame(
        {
            "id": ['=HYPERLINK("http://x")', "a1", "-3", "@SUM(A1)"],
            "given": ["+cat", "dog", "dog", "cat"],
            "score": [0.1, 0.2, -0.5, 0.4],
            "note": ["ok", None, "\tx", "'=already"],
        }
    )
    path = tmp_path / "review.csv"

    neutralise_formulas(sheet).to_csv(path, index=False)

    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert written["id"].tolist() == ['\'=HYPERLINK("http://x")', "a1", "'-3", "'@SUM(A1)"]
    assert written["given"][0] == "'+cat" and written["score"][2] == "-0.5"  # numbers are left alone
    restored = restore_formulas(written)
    assert restored["id"].tolist() == sheet["id"].tolist()
    assert restored["given"].tolist() == sheet["given"].tolist()
    assert restored["note"].tolist()[2:] == ["\tx", "'=already"]  # a quote that was there stays


@pytest.fixture
def special_run(tmp_path) -> tuple[AuditStore, str, list[str]]:
    """A stored run whose labels start with formula characters and whose flagged rows have hostile ids."""
    store = AuditStore(tmp_path / "db.duckdb")
    run = build_run(store, dataset="sheet", run_id="r1", rows=60, flagged=8, classes=FORMULA_CLASSES, seed=3)
    flagged = store.query("SELECT row_id FROM scores WHERE run_id = 'r1' AND is_issue ORDER BY issue_rank")
    renamed = dict(zip(flagged["row_id"].tolist()[: len(SPECIAL_IDS)], SPECIAL_IDS, strict=True))
    with store.connect() as con:
        for old, new in renamed.items():
            for table in ("scores", "ingested_rows"):
                con.execute(f"UPDATE {table} SET row_id = ? WHERE run_id = 'r1' AND row_id = ?", [new, old])
    return store, run.run_id, list(renamed.values())


def test_the_unmodified_review_sheet_imports_back(tmp_path, special_run) -> None:
    store, run_id, _ = special_run
    path, rows = write_review_sheet(store, run_id, tmp_path / "review.csv")
    raw = path.read_bytes()
    assert b"\r\n=" not in raw and b",=" not in raw and b",+1," not in raw, "a formula reached the sheet"

    result = import_verdicts(store, path, run_id=run_id)  # nothing reviewed yet: accepted, nothing stored

    assert result.stored == 0 and rows == len(review_sheet(store, run_id))


def test_verdicts_on_special_ids_and_labels_match_the_stored_rows(tmp_path, special_run) -> None:
    store, run_id, ids = special_run
    path, _ = write_review_sheet(store, run_id, tmp_path / "review.csv")
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)  # as a spreadsheet keeps it: quotes and all
    assert len(sheet) == len(review_sheet(store, run_id)), "a record was split"
    special = sheet["id"].isin(["'" + i if i.startswith(("=", "\t")) else i for i in ids])
    assert special.sum() == len(ids)
    sheet.loc[special, "verdict"] = "error"
    sheet.to_csv(path, index=False, lineterminator="\r\n")

    result = import_verdicts(store, path, run_id=run_id, reviewer="alice")

    assert result.stored == len(ids) and result.counts["error"] == len(ids)
    stored = store.query(
        "SELECT row_id, corrected_label, suggested_label FROM review_verdicts WHERE run_id = ?", [run_id]
    )
    assert sorted(stored["row_id"]) == sorted(ids)
    assert (stored["corrected_label"] == stored["suggested_label"]).all()
    assert set(stored["corrected_label"]) <= set(FORMULA_CLASSES)
