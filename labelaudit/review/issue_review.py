"""Reviewers' verdicts on data-issue findings (issue 14): a reviewer confirms a duplicate, a leaked row or an outlier.

The review sheet (:func:`labelaudit.review.feedback.review_sheet`) has an ``issue_type`` column: ``label`` for the
flagged labels (today's rows, validated and stored exactly as before in ``review_verdicts``), and, when asked for
(``data_issues=True``; ``labelaudit review export --data-issues``), one row per flagged finding of the run's
``data_issues`` stage, named by its issue type (``conflicting_duplicate``, ``exact_duplicate``, ...). A row can
appear several times, once per issue type, so these verdicts are keyed by ``(import_id, row_id, issue_type)`` in
their own table ``data_issue_verdicts``.

Verdicts mean, per finding: ``error`` the finding is real (the rows are duplicates, the row is an outlier),
``correct`` a false alarm, ``unsure`` undecided. A sheet without the ``issue_type`` column is a label sheet.
Precision per issue type (:func:`issue_precision`) is errors / (errors + corrects), as for the label flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from labelaudit.review.verdicts import VERDICTS, ReviewImportError, _wilson

__all__ = [
    "ISSUE_COLUMN",
    "LABEL_ISSUE",
    "IssueSheetParts",
    "issue_precision",
    "issue_rows",
    "remap_problems",
    "split_sheet",
    "validate_issue_verdicts",
]

ISSUE_COLUMN = "issue_type"
LABEL_ISSUE = "label"


def issue_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """The run's flagged data-issue findings as sheet rows, most direct evidence first then most severe.

    Columns ``id``, ``given`` (the row's label), ``suggested`` (empty), ``score`` (the finding's, lower is more
    severe), ``suggested_prob`` (empty), ``issue_type``, ``issue_detail`` (the finding's detail, JSON text).
    """
    from labelaudit.store.queries import DATA_ISSUE_ORDER

    order = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(DATA_ISSUE_ORDER))
    frame = con.execute(
        f"""SELECT f.row_id AS id, coalesce(r.given_label, h.label) AS given, f.score, f.issue_type,
                   f.detail AS issue_detail
            FROM data_issue_findings f
            LEFT JOIN ingested_rows r ON r.run_id = f.run_id AND r.row_idx = f.row_idx
            LEFT JOIN row_hashes h ON h.run_id = f.run_id AND h.row_idx = f.row_idx
            WHERE f.run_id = ? AND f.is_issue
            ORDER BY CASE f.issue_type {order} ELSE {len(DATA_ISSUE_ORDER)} END, f.group_id NULLS LAST, f.score,
                     f.row_idx""",
        [run_id],
    ).df()
    frame.insert(2, "suggested", "")
    frame.insert(4, "suggested_prob", np.nan)
    frame["issue_detail"] = frame["issue_detail"].map(lambda d: json.dumps(json.loads(d)) if d else "")
    return frame


@dataclass(frozen=True)
class IssueSheetParts:
    """A read sheet split into its label rows and its data-issue rows, each with its 0-based sheet positions."""

    labels: pd.DataFrame
    label_positions: np.ndarray
    issues: pd.DataFrame
    issue_positions: np.ndarray


def split_sheet(sheet: pd.DataFrame) -> IssueSheetParts:
    """Label rows (no ``issue_type`` column, or ``label`` / empty there) apart from data-issue rows."""
    sheet = sheet.reset_index(drop=True)
    if ISSUE_COLUMN not in sheet.columns:
        return IssueSheetParts(sheet, np.arange(len(sheet)), sheet.iloc[0:0], np.arange(0))
    kind = sheet[ISSUE_COLUMN].fillna("").astype(str).str.strip().str.lower()
    is_label = kind.isin(["", LABEL_ISSUE]).to_numpy()
    labels = sheet[is_label].drop(columns=[ISSUE_COLUMN]).reset_index(drop=True)
    issues = sheet[~is_label].assign(**{ISSUE_COLUMN: kind[~is_label]}).reset_index(drop=True)
    return IssueSheetParts(labels, np.flatnonzero(is_label), issues, np.flatnonzero(~is_label))


def remap_problems(error: ReviewImportError, positions: np.ndarray) -> list[tuple[str, list[int]]]:
    """A label-part refusal's problems with rows renumbered to the whole sheet (1 = first data row)."""
    return [(what, [int(positions[r - 1]) + 1 for r in rows]) for what, rows in error.problems]


def validate_issue_verdicts(
    issues: pd.DataFrame, positions: np.ndarray, findings: pd.DataFrame, labels: set[str]
) -> tuple[pd.DataFrame, list[tuple[str, list[int]]]]:
    """Check the data-issue rows of a sheet against the run's flagged findings; every problem is collected.

    Parameters
    ----------
    issues : pd.DataFrame (m, ...)
        The sheet's data-issue rows (:func:`split_sheet`), read as text; ``id``, ``issue_type``, ``verdict``.
    positions : np.ndarray (m,)
        Their 0-based positions in the sheet, for the messages.
    findings : pd.DataFrame
        The run's flagged findings: ``row_id``, ``issue_type``, ``score``.
    labels : set of str
        The run's classes (an optional ``corrected_label`` must be one).

    Returns
    -------
    verdicts : pd.DataFrame (r, 5)
        ``id``, ``issue_type``, ``verdict``, ``corrected_label``, ``score`` (the stored finding's), reviewed rows.
    problems : list of (message, sheet rows)
    """
    frame = issues.reindex(columns=["id", ISSUE_COLUMN, "verdict", "corrected_label"])
    frame = frame.apply(lambda c: c.astype("string").str.strip()).mask(lambda f: f == "")
    frame["verdict"] = frame["verdict"].str.lower()
    known = pd.MultiIndex.from_frame(findings[["row_id", "issue_type"]].astype(str))
    key = pd.MultiIndex.from_arrays([frame["id"].fillna(""), frame[ISSUE_COLUMN].fillna("")])
    types = set(findings["issue_type"].astype(str))
    checks = {
        "empty id": frame["id"].isna(),
        "unknown issue_type (not among the run's flagged findings)": ~frame[ISSUE_COLUMN].isin(types),
        "unknown id for its issue_type (not among the findings sent for review)": frame["id"].notna()
        & frame[ISSUE_COLUMN].isin(types)
        & ~pd.Series(key.isin(known), index=frame.index),
        "duplicate id and issue_type": frame["id"].notna() & pd.Series(key.duplicated(keep=False), index=frame.index),
        f"verdict not one of {', '.join(VERDICTS)}": frame["verdict"].notna() & ~frame["verdict"].isin(VERDICTS),
        "unknown labels in corrected_label": frame["corrected_label"].notna() & ~frame["corrected_label"].isin(labels),
    }
    problems = [
        (what, [int(positions[i]) + 1 for i in np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))])
        for what, mask in checks.items()
    ]
    reviewed = frame[frame["verdict"].notna()].astype(object)
    score = findings.astype({"row_id": str, "issue_type": str}).set_index(["row_id", "issue_type"])["score"]
    reviewed["score"] = score.reindex(pd.MultiIndex.from_frame(reviewed[["id", ISSUE_COLUMN]])).to_numpy()
    return reviewed.reset_index(drop=True), [(w, rows) for w, rows in problems if rows]


def issue_precision(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Measured precision of each data-issue type from reviewers' verdicts.

    Parameters
    ----------
    verdicts : pd.DataFrame (n, ...)
        ``issue_type`` and ``verdict`` (:func:`labelaudit.store.queries.dataset_issue_verdicts`).

    Returns
    -------
    precision : pd.DataFrame (types, 8)
        ``issue_type``, ``n_reviewed``, ``n_error``, ``n_correct``, ``n_unsure``, ``precision`` (errors over
        decided verdicts; NaN without one) and its 95 % Wilson interval ``precision_low``, ``precision_high``.
    """
    columns = ["issue_type", "n_reviewed", *(f"n_{v}" for v in VERDICTS), "precision"]
    if verdicts.empty:
        return pd.DataFrame(columns=[*columns, "precision_low", "precision_high"])
    counts = pd.crosstab(verdicts["issue_type"], verdicts["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    counts.columns = [f"n_{v}" for v in VERDICTS]
    counts.insert(0, "n_reviewed", counts.sum(axis=1))
    decided = (counts["n_error"] + counts["n_correct"]).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["precision"] = counts["n_error"].to_numpy() / decided
    counts["precision_low"], counts["precision_high"] = _wilson(counts["n_error"].to_numpy(), decided)
    return counts.reset_index()
