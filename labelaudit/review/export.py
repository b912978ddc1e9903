"""A cleaned copy of the audited data set, by one of three strategies, and the record of which one was used.

- ``remove``: drop the flagged rows. Safest when the suggestions are not trusted; loses data.
- ``relabel``: give flagged rows their suggested label where its confidence is at least ``threshold``; flagged
  rows below it keep their label. Keeps every row; only as good as the suggestions.
- ``consensus``: every row with a consensus label (several annotators) takes it. For multi-annotated data,
  where the consensus already weighs annotators and model.

The cleaned frame keeps the input's columns and row order; only the label column changes or rows go. The
:class:`ExportRecord` says what was done so the run can store it beside the file.

Files meant for spreadsheets (``.csv``, ``.tsv``, and the review sheets of :mod:`labelaudit.review.feedback`) go
through :func:`write_spreadsheet_text`: a text cell a spreadsheet would run as a formula gets a leading ``'``
(OWASP's advice against CSV injection), and records end in CRLF so a value holding a line break is quoted and
stays one record. :func:`restore_formulas` undoes the prefix exactly. Parquet keeps every value as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType

import pandas as pd

__all__ = [
    "FORMULA_START",
    "STRATEGIES",
    "ExportRecord",
    "clean_dataset",
    "neutralise_formulas",
    "restore_formulas",
    "write_dataset",
    "write_spreadsheet_text",
]

RESULT_COLUMNS = ("is_issue", "suggested_label", "suggested_confidence")


@dataclass(frozen=True)
class ExportRecord:
    """What an export did; ``to_dict`` is what gets stored with the run."""

    strategy: str
    threshold: float | None
    rows_in: int
    rows_out: int
    rows_removed: int
    labels_changed: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _remove(labels: pd.Series, results: pd.DataFrame, threshold: float) -> tuple[pd.Series, pd.Series]:
    del threshold
    return labels, ~results["is_issue"]


def _relabel(labels: pd.Series, results: pd.DataFrame, threshold: float) -> tuple[pd.Series, pd.Series]:
    sure = results["is_issue"] & (results["suggested_confidence"] >= threshold) & results["suggested_label"].notna()
    return labels.mask(sure, results["suggested_label"]), pd.Series(True, index=labels.index)


def _consensus(labels: pd.Series, results: pd.DataFrame, threshold: float) -> tuple[pd.Series, pd.Series]:
    del threshold
    if "consensus_label" not in results.columns:
        raise ValueError("strategy 'consensus' needs a consensus_label column (multi-annotator data)")
    consensus = results["consensus_label"]
    return labels.mask(consensus.notna(), consensus), pd.Series(True, index=labels.index)


#: strategy name -> function(labels, aligned results, threshold) -> (new labels, rows to keep)
STRATEGIES: Mapping[str, Callable[[pd.Series, pd.DataFrame, float], tuple[pd.Series, pd.Series]]] = MappingProxyType(
    {"remove": _remove, "relabel": _relabel, "consensus": _consensus}
)


def _aligned_results(data: pd.DataFrame, results: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Results in the data's row order; rows without a result count as not flagged."""
    missing = [c for c in (id_column, *RESULT_COLUMNS) if c not in results.columns]
    if missing:
        raise ValueError(f"results lack columns {missing}")
    if results[id_column].duplicated().any():
        raise ValueError(f"results repeat ids, e.g. {results[id_column][results[id_column].duplicated()].iloc[0]!r}")
    if data[id_column].duplicated().any():
        raise ValueError(f"data repeats ids in {id_column!r}; rows cannot be matched to results")
    unknown = ~results[id_column].isin(data[id_column])
    if unknown.any():
        raise ValueError(
            f"results hold {int(unknown.sum())} ids not in the data, e.g. {results[id_column][unknown].iloc[0]!r}"
        )
    aligned = results.set_index(id_column).reindex(data[id_column])
    aligned["is_issue"] = aligned["is_issue"].astype("boolean").fillna(False).astype(bool)
    aligned["suggested_confidence"] = pd.to_numeric(aligned["suggested_confidence"])
    return aligned.set_axis(data.index)


def clean_dataset(
    data: pd.DataFrame,
    results: pd.DataFrame,
    *,
    strategy: str,
    threshold: float = 0.9,
    id_column: str = "id",
    label_column: str = "label",
) -> tuple[pd.DataFrame, ExportRecord]:
    """Apply a cleaning strategy to the ingested data.

    Parameters
    ----------
    data : pd.DataFrame (n, c)
        The batch as ingested; ``id_column`` unique.
    results : pd.DataFrame (r, 4+)
        Per-row audit results: ``id_column``, ``is_issue`` (bool), ``suggested_label``,
        ``suggested_confidence`` (0-1) and, for ``consensus``, ``consensus_label`` (missing where an item has no
        consensus). Ids must be in ``data``; data rows without a result are treated as not flagged.
    strategy : {"remove", "relabel", "consensus"}
        See the module docstring.
    threshold : float, default=0.9
        Minimum ``suggested_confidence`` to apply a suggestion (``relabel`` only).

    Returns
    -------
    cleaned : pd.DataFrame (m, c)
        Same columns and order as ``data``, index reset.
    record : ExportRecord
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {sorted(STRATEGIES)}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    for column in (id_column, label_column):
        if column not in data.columns:
            raise ValueError(f"data has no column {column!r}")
    aligned = _aligned_results(data, results, id_column)
    original = data[label_column]
    labels, keep = STRATEGIES[strategy](original, aligned, threshold)
    same = labels.eq(original) | (labels.isna() & original.isna())
    changed = keep & ~same
    cleaned = data.assign(**{label_column: labels})[keep.to_numpy()].reset_index(drop=True)
    record = ExportRecord(
        strategy=strategy,
        threshold=threshold if strategy == "relabel" else None,
        rows_in=len(data),
        rows_out=len(cleaned),
        rows_removed=len(data) - len(cleaned),
        labels_changed=int(changed.sum()),
    )
    return cleaned, record


#: What makes a spreadsheet read a text cell as a formula (OWASP, CSV injection): tab and CR included.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_text_column(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or values.dtype == object


def _guarded(value: object) -> bool:
    """Text that starts, after any quotes, with a formula character (so its ``'`` prefix round-trips)."""
    return isinstance(value, str) and value.lstrip("'").startswith(FORMULA_START)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which text cells a spreadsheet would evaluate start with ``'``.

    Only text is touched: numbers in numeric columns (``-3.2``) stay numbers. Text already starting with quotes
    before a formula character gets one more quote, so :func:`restore_formulas` gives every value back exactly.
    """
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if _is_text_column(values):
            risky = values.map(_guarded).astype(bool)
            if risky.any():
                safe[column] = values.astype(object).mask(risky, "'" + values[risky].astype(str))
    return safe


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` on a sheet read back as text (one leading ``'`` removed)."""
    restored = frame.copy()
    for column in restored.columns:
        values = restored[column]
        if _is_text_column(values):
            quoted = values.map(lambda v: isinstance(v, str) and v.startswith("'") and _guarded(v)).astype(bool)
            if quoted.any():
                restored[column] = values.astype(object).mask(quoted, values[quoted].astype(str).str[1:])
    return restored


def write_spreadsheet_text(frame: pd.DataFrame, path: str | Path, *, sep: str = ",") -> None:
    """Write ``frame`` as CSV (or TSV with ``sep="\\t"``) for spreadsheets: formulas neutralised, CRLF records.

    With ``\\r\\n`` as the record end, the csv module quotes every value holding a ``\\r`` or ``\\n``; with pandas'
    default ``\\n`` a lone carriage return went out unquoted and split the record.
    """
    neutralise_formulas(frame).to_csv(path, index=False, sep=sep, lineterminator="\r\n")


_WRITERS: Mapping[str, Callable[[pd.DataFrame, Path], None]] = MappingProxyType(
    {
        ".parquet": lambda frame, path: frame.to_parquet(path, index=False),  # exact values
        ".pq": lambda frame, path: frame.to_parquet(path, index=False),
        ".csv": lambda frame, path: write_spreadsheet_text(frame, path),
        ".tsv": lambda frame, path: write_spreadsheet_text(frame, path, sep="\t"),
    }
)


def write_dataset(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet (exact) or CSV/TSV (for spreadsheets), by the file extension; returns the path."""
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ValueError(f"cannot write {path.name!r}: use one of {sorted(_WRITERS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(frame, path)
    return path
