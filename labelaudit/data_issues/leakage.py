"""Leakage across batches: rows of this batch whose features repeat a row of an earlier audited batch.

A team that trains on last week's batch and evaluates on this one (or merges both) counts the same item twice;
when the two copies carry different labels, one of them is wrong. Only the earlier batches' row hashes are
needed, never their rows: the ``row_hashes`` table (``run_id, row_idx, row_id, hash``) keeps them per run.

Exact repeats only. Near-duplicate leakage (a row within a small distance of an earlier one) needs the
earlier batches' reduced features and the nearest-neighbour index of :mod:`labelaudit.features`; it is left
for that module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.data_issues.duplicates import finding_rows

LEAKED_DUPLICATE = "leaked_duplicate"
HISTORY_COLUMNS = ("run_id", "row_id", "hash")


@dataclass(frozen=True)
class LeakageFindings:
    """What :func:`find_leakage` found.

    ``rows`` has one finding per leaked row (:data:`~labelaudit.data_issues.duplicates.FINDING_COLUMNS`; score
    0, ``group_id`` null, ``detail`` JSON naming the earliest earlier run and row, how many more earlier rows
    match, and both labels when they differ). ``by_run`` counts the
    leaked rows per earlier run (``run_id, rows``), a row counted once per earlier run it repeats.
    """

    rows: pd.DataFrame
    by_run: pd.DataFrame
    n_rows: int

    @property
    def leaked_rows(self) -> int:
        return len(self.rows)

    @property
    def leaked_rate(self) -> float:
        """Share of this batch seen before (``max_leaked_rate`` in ``quality.json``)."""
        return self.leaked_rows / self.n_rows if self.n_rows else 0.0


def find_leakage(
    hashes: np.ndarray | pd.Series,
    row_ids: Sequence[str] | pd.Series | np.ndarray,
    history: pd.DataFrame,
    *,
    run_id: str,
    labels: Sequence[str] | pd.Series | np.ndarray | None = None,
) -> LeakageFindings:
    """The rows of this batch whose hash is among the earlier batches' hashes.

    Parameters
    ----------
    hashes : array of uint64 (N,)
        This batch's row hashes (:func:`labelaudit.data_issues.hashing.row_hashes`), in batch order.
    row_ids : array of str (N,)
    history : pd.DataFrame (M, 3 or 4)
        Earlier batches' ``run_id, row_id, hash`` (and optionally ``label``), oldest run first: the earliest
        match is the one named. Rows of ``run_id`` itself are ignored, so a re-run does not leak into itself.
        Hashes must come from the same scheme and feature list (:func:`~.hashing.feature_key`).
    run_id : str
        This run's id: the findings belong to it, and its own rows in ``history`` are ignored.
    labels : array of str (N,), optional
        This batch's label keys; with a ``label`` column in ``history``, the detail says when they differ.

    Returns
    -------
    LeakageFindings
    """
    values = np.asarray(hashes, dtype=np.uint64)
    ids = np.asarray(row_ids, dtype=object)
    if ids.shape != values.shape:
        raise ValueError(f"hashes ({len(values)}) and row_ids ({len(ids)}) must have one value per row")
    absent = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if absent:
        raise ValueError(f"history of earlier batches lacks columns {absent} (needs {list(HISTORY_COLUMNS)})")
    earlier = history[history["run_id"] != run_id]
    earlier = earlier.assign(hash=earlier["hash"].to_numpy(dtype=np.uint64), order=np.arange(len(earlier)))
    batch = pd.DataFrame({"row_idx": np.arange(len(values), dtype=np.int64), "hash": values})
    if labels is not None:
        batch["given"] = np.asarray(labels, dtype=object).astype(str)
    matches = batch.merge(earlier, on="hash", how="inner")
    by_run = (
        matches.drop_duplicates(["row_idx", "run_id"]).groupby("run_id", sort=False).size().rename("rows").reset_index()
    )
    return LeakageFindings(rows=_findings(matches, ids, run_id), by_run=by_run, n_rows=len(values))


def _findings(matches: pd.DataFrame, ids: np.ndarray, run_id: str) -> pd.DataFrame:
    """One finding per leaked row, naming its earliest earlier copy (detail JSON)."""
    matches = matches.sort_values(["row_idx", "order"], kind="stable")
    others = (matches.groupby("row_idx").size() - 1).to_dict()
    first = matches.drop_duplicates("row_idx")
    detail = [json.dumps(_detail(row, others[row.row_idx])) for row in first.itertuples(index=False)]
    positions = first["row_idx"].to_numpy(dtype=np.int64)
    return finding_rows(
        run_id,
        ids[positions],
        LEAKED_DUPLICATE,
        np.zeros(len(positions)),
        np.ones(len(positions), dtype=bool),
        [-1] * len(positions),
        detail,
    )


def _detail(row, others: int) -> dict[str, object]:
    detail: dict[str, object] = {"earlier_run_id": row.run_id, "earlier_row_id": row.row_id}
    if others:
        detail["more_earlier_rows"] = others
    label, given = getattr(row, "label", None), getattr(row, "given", None)
    if label is not None and given is not None and not pd.isna(label) and str(label) != given:
        detail["earlier_label"], detail["label"] = str(label), given
    return detail
