"""Exact duplicates and conflicting duplicates: rows with the same features (:mod:`.hashing`).

A group is every row of the batch sharing one row hash. In a group of size ``m``:

- the **first** row (lowest batch position) is the one kept; the ``m - 1`` others are the duplicates
  (``is_issue``), and the duplicate rate is their share of the batch: the share a de-duplicated batch loses;
- when the rows carry more than one distinct label (for multi-label, tag set; for token batches, tag
  sequence), the group **conflicts**: the same item was labelled two ways, so at most one label can be right.
  Every row of a conflicting group is an issue, because the features alone cannot say which label is the
  right one; its score is the share of the group giving the row's own label, so minority labels rank first.

Scores follow cleanlab Datalab's convention (in [0, 1], lower is more severe): an exact duplicate scores 0
(its distance to the kept row is zero). ``group_id`` numbers the groups 0, 1, ... in the order of their first
rows (as :mod:`.near_duplicates` numbers its groups), so a report can show a group side by side; ``detail`` is
JSON. Only rows of a group get a finding (a batch without duplicates adds no rows to ``data_issues``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Columns of every row-level finding: the planned ``data_issues`` view.
FINDING_COLUMNS = ("run_id", "row_id", "issue_type", "score", "is_issue", "group_id", "detail")

EXACT_DUPLICATE = "exact_duplicate"
CONFLICTING_DUPLICATE = "conflicting_duplicate"


@dataclass(frozen=True)
class DuplicateFindings:
    """What :func:`find_duplicates` found in one batch.

    ``rows`` holds one finding per row of a duplicate group (``exact_duplicate``, first rows included with
    ``is_issue`` false) and one per row of a conflicting group (``conflicting_duplicate``), with
    :data:`FINDING_COLUMNS`.
    """

    rows: pd.DataFrame
    n_rows: int
    duplicate_groups: int
    duplicate_rows: int  # rows beyond the first of their group
    conflicting_groups: int
    conflicting_rows: int  # every row of a conflicting group

    @property
    def duplicate_rate(self) -> float:
        """Share of the batch a de-duplication would remove (``max_duplicate_rate`` in ``quality.json``)."""
        return self.duplicate_rows / self.n_rows if self.n_rows else 0.0

    @property
    def conflicting_rate(self) -> float:
        """Share of the batch in conflicting groups (``max_conflicting_duplicate_rate`` in ``quality.json``)."""
        return self.conflicting_rows / self.n_rows if self.n_rows else 0.0


def find_duplicates(
    hashes: np.ndarray | pd.Series,
    row_ids: Sequence[str] | pd.Series | np.ndarray,
    labels: Sequence[str] | pd.Series | np.ndarray | None = None,
    *,
    run_id: str,
) -> DuplicateFindings:
    """Group rows by their hash, and find the groups whose labels disagree.

    Linear in the batch: one hash table pass (``pd.factorize``), no sort of the rows.

    Parameters
    ----------
    hashes : array of uint64 (N,)
        Row hashes from :func:`labelaudit.data_issues.hashing.row_hashes`, in batch order.
    row_ids : array of str (N,)
        The rows' ids, in the same order.
    labels : array of str (N,), optional
        Each row's label as one comparable value: the class (multiclass), the sorted tag set
        (multi-label: :func:`label_keys`), the tag sequence (token). Without it, no conflicts are looked for.
    run_id : str
        The audit run the findings belong to.

    Returns
    -------
    DuplicateFindings

    Equal to this loop (quadratic, for reading only)::

        for i in range(N):
            same = [j for j in range(N) if hashes[j] == hashes[i]]
            is_duplicate[i] = len(same) > 1 and i != min(same)
            conflicting[i] = len({labels[j] for j in same}) > 1
    """
    values = np.asarray(hashes, dtype=np.uint64)
    ids = np.asarray(row_ids, dtype=object)
    if ids.shape != values.shape or (labels is not None and len(labels) != len(values)):
        raise ValueError(
            f"hashes ({len(values)}), row_ids ({len(ids)}) and labels "
            f"({'-' if labels is None else len(labels)}) must have one value per row"
        )
    codes, uniques = pd.factorize(values)
    sizes = np.bincount(codes, minlength=len(uniques))
    # factorize numbers groups in order of first appearance: the i-th first occurrence opens group i
    first = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
    in_group = sizes[codes] > 1
    groups = _Groups(codes, sizes, first, np.cumsum(sizes > 1) - 1)
    exact = _exact_rows(groups, ids, in_group, run_id)
    conflicts = (
        _conflicting_rows(groups, ids, np.asarray(labels, dtype=object), in_group, run_id)
        if labels is not None
        else _empty(run_id)
    )
    return DuplicateFindings(
        rows=pd.concat([exact, conflicts], ignore_index=True) if len(conflicts) else exact,
        n_rows=len(values),
        duplicate_groups=int((sizes > 1).sum()),
        duplicate_rows=int(in_group.sum() - (sizes > 1).sum()),
        conflicting_groups=int(conflicts["group_id"].nunique()),
        conflicting_rows=len(conflicts),
    )


def label_keys(labels: Sequence[Sequence[int]], classes: Sequence[str], *, sort: bool = True) -> list[str]:
    """One comparable value per row of list-valued labels.

    Multi-label (``sort=True``): the sorted distinct tags joined by ``|``, so ``[2, 0]`` and ``[0, 2, 2]`` agree.
    Token (``sort=False``): the tags in token order, joined by a space.
    """
    if sort:
        return ["|".join(classes[k] for k in sorted(set(row))) for row in labels]
    return [" ".join(classes[k] for k in row) for row in labels]


@dataclass(frozen=True)
class _Groups:
    codes: np.ndarray  # (N,) hash group of each row, numbered by first appearance
    sizes: np.ndarray  # (G,) rows per hash group
    first: np.ndarray  # (G,) batch position of each hash group's first row
    number: np.ndarray  # (G,) group_id of each hash group of size > 1


def _exact_rows(groups: _Groups, ids: np.ndarray, in_group: np.ndarray, run_id: str) -> pd.DataFrame:
    positions = np.flatnonzero(in_group)
    code = groups.codes[positions]
    kept = groups.first[code]
    detail = [
        json.dumps({"kept_row_id": str(ids[k]), "group_size": int(m)})
        for k, m in zip(kept, groups.sizes[code], strict=True)
    ]
    return finding_rows(
        run_id,
        ids[positions],
        EXACT_DUPLICATE,
        np.zeros(len(positions)),
        positions != kept,
        groups.number[code],
        detail,
    )


def _conflicting_rows(
    groups: _Groups, ids: np.ndarray, labels: np.ndarray, in_group: np.ndarray, run_id: str
) -> pd.DataFrame:
    positions = np.flatnonzero(in_group)
    grouped = pd.DataFrame({"code": groups.codes[positions], "label": labels[positions].astype(str)})
    conflicting = grouped.groupby("code")["label"].transform("nunique").to_numpy() > 1
    positions, grouped = positions[conflicting], grouped[conflicting]
    if not len(positions):
        return _empty(run_id)
    same_label = grouped.groupby(["code", "label"])["label"].transform("size").to_numpy()
    size = grouped.groupby("code")["label"].transform("size").to_numpy()
    mix: dict[int, dict[str, int]] = {}
    for (c, label), count in grouped.groupby(["code", "label"]).size().sort_values(ascending=False).items():
        mix.setdefault(c, {})[label] = int(count)
    code = grouped["code"].to_numpy()
    detail = [json.dumps({"labels": mix[c], "group_size": int(m)}) for c, m in zip(code, size, strict=True)]
    return finding_rows(
        run_id,
        ids[positions],
        CONFLICTING_DUPLICATE,
        same_label / size,
        np.ones(len(positions), bool),
        groups.number[code],
        detail,
    )


def finding_rows(
    run_id: str,
    row_ids: Sequence[object] | np.ndarray,
    issue_type: str,
    score: Sequence[float] | np.ndarray,
    is_issue: Sequence[bool] | np.ndarray,
    group_id: Sequence[int] | np.ndarray,
    detail: Sequence[str | None],
) -> pd.DataFrame:
    """Findings in the shape of the ``data_issues`` view (:data:`FINDING_COLUMNS`); a negative group is null."""
    n = len(row_ids)
    groups = pd.array(np.asarray(group_id, dtype=np.int64), dtype="Int64")
    groups[groups < 0] = pd.NA
    return pd.DataFrame(
        {
            "run_id": pd.array([run_id] * n, dtype="str"),
            "row_id": pd.array(np.asarray(row_ids, dtype=object).astype(str), dtype="str"),
            "issue_type": pd.array([issue_type] * n, dtype="str"),
            "score": np.asarray(score, dtype=np.float64),
            "is_issue": np.asarray(is_issue, dtype=bool),
            "group_id": groups,
            "detail": pd.Series(list(detail), dtype="object"),
        },
        columns=list(FINDING_COLUMNS),
    )


def _empty(run_id: str) -> pd.DataFrame:
    return finding_rows(run_id, [], CONFLICTING_DUPLICATE, [], [], [], [])
