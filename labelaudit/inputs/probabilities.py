"""Bring your own model: predicted probabilities computed elsewhere, loaded instead of fitting.

The file holds an id column and one column per class (named exactly as the classes). Rows are matched to the
batch by id, not by position, because a model pipeline elsewhere is free to reorder rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelaudit.errors import InputDataError


def load_precomputed(
    path: str,
    row_ids: pd.Series,
    classes: list[str],
    *,
    id_column: str | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Probabilities (N, K) aligned to ``row_ids`` and ``classes``.

    Parameters
    ----------
    path : str
        CSV or Parquet file with an id column and one numeric column per class.
    row_ids : pd.Series (N,)
        The batch's ids, in batch order.
    classes : list of str
        Class names in class-index order; every one must be a column of the file.
    id_column : str, optional
        Name of the id column; by default the one column that is not a class.
    memory_budget : int, optional
        Bytes; a Parquet file above it is refused (see :func:`check_fits_in_memory`). Default: the
        ``memory_budget`` setting (``LABELAUDIT_MEMORY_BUDGET``, 2 GiB).
    """
    from labelaudit.cl._engine.validation import validate_pred_probs
    from labelaudit.inputs.readers import read_batch

    check_fits_in_memory(path, memory_budget)
    frame, _ = read_batch(path, string_columns=(id_column,) if id_column else ())
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in classes if c not in frame.columns]
    others = [c for c in frame.columns if c not in classes]
    if id_column is None:
        if len(others) != 1:
            raise InputDataError(
                f"expected one id column and one column per class {classes}; found non-class columns {others}"
                + (f" and missing classes {missing}" if missing else ""),
                source=path,
            )
        id_column = others[0]
    elif len(others) > 1:
        raise InputDataError(f"unexpected columns {[c for c in others if c != id_column]}", source=path)
    if missing:
        raise InputDataError(
            f"no probability column for classes {missing} (columns: {list(frame.columns)})", source=path
        )
    order = positions_by_id(frame, id_column, row_ids, path)
    values = frame[classes].to_numpy(dtype=np.float64, na_value=np.nan)
    try:  # checked in file order, so the rows named are the file's (1 = first data row)
        values = validate_pred_probs(values)
    except InputDataError as exc:
        detail = exc.detail.replace("pred_probs rows", "probabilities")
        rows = [r + 1 for r in exc.rows] if exc.rows else None
        raise InputDataError(detail, source=path, rows=rows) from exc
    return values[order]


def check_fits_in_memory(path: str, memory_budget: int | None = None) -> None:
    """Refuse a Parquet file of probabilities too big to load whole, pointing to ``labelaudit score``.

    Too big: the file, or the float64 matrix it decodes to (rows x columns x 8 bytes, from the Parquet metadata),
    is larger than ``memory_budget`` bytes. CSV files are not checked here (the reader's own size limit applies).
    """
    from pathlib import Path

    from labelaudit.settings import Settings

    file = Path(path)
    if file.suffix.lower() not in (".parquet", ".pq") or not file.is_file():
        return
    budget = Settings().memory_budget if memory_budget is None else memory_budget
    size = file.stat().st_size
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(file).metadata
        decoded = meta.num_rows * meta.num_columns * 8
    except Exception:  # unreadable: the reader reports it properly
        decoded = 0
    if max(size, decoded) > budget:
        raise InputDataError(
            f"is too big to score in memory ({size / 1024**2:,.0f} MiB on disk, about {decoded / 1024**2:,.0f} MiB "
            f"decoded; memory budget {budget / 1024**2:,.0f} MiB, LABELAUDIT_MEMORY_BUDGET): score it out of core "
            f"with `labelaudit score {path} --dataset <name>` (one table of id, label and one column per class), "
            "which streams it",
            source=str(path),
        )


def positions_by_id(frame: pd.DataFrame, id_column: str, row_ids: pd.Series, path: str) -> np.ndarray:
    """For each batch row (in ``row_ids`` order), its row in the probability file; refuses duplicates and gaps."""
    ids = frame[id_column].astype(str)
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if duplicated.size:
        raise InputDataError("duplicate ids", source=path, column=id_column, rows=(duplicated + 1).tolist())
    position = pd.Series(np.arange(len(frame)), index=ids.to_numpy())
    wanted = row_ids.astype(str).to_numpy()
    absent = ~pd.Index(wanted).isin(position.index)
    if absent.any():
        raise InputDataError(
            f"has no probabilities for {int(absent.sum())} ids of the batch, e.g. {wanted[absent][:5].tolist()}",
            source=path,
            column=id_column,
        )
    return position.loc[wanted].to_numpy()
