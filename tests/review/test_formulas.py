"""Review sheets are opened in spreadsheets: formula-like text must not run there, and must import back intact."""

from __future__ import annotations

import pandas as pd

from labelaudit.feedback import _neutralise_formulas, _restore_formulas


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

    _neutralise_formulas(sheet).to_csv(path, index=False)

    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert written["id"].tolist() == ['\'=HYPERLINK("http://x")', "a1", "'-3", "'@SUM(A1)"]
    assert written["given"][0] == "'+cat" and written["score"][2] == "-0.5"  # numbers are left alone
    restored = _restore_formulas(written)
    assert restored["id"].tolist() == sheet["id"].tolist()
    assert restored["given"].tolist() == sheet["given"].tolist()
    assert restored["note"].tolist()[2:] == ["\tx", "'=already"]  # a quote that was there stays
