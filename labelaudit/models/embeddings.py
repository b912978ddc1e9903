"""Embeddings as features: how images, audio and long text are audited without labelaudit training a deep model.

A user computes one vector per row with whatever model suits the data (an image or sentence encoder) and
gives the vectors to the audit either as columns of the batch (a feature of role ``embedding`` whose
``columns`` list them or match a pattern such as ``"emb_*"``) or as a file keyed by the batch's ids (its
``file``). :func:`labelaudit.models.crossval.build_pipeline` imputes and standardises the block and any
candidate fits on it; logistic regression on standardised vectors is the usual linear probe, and the
neighbour score (:mod:`labelaudit.models.neighbour_score`) reads the same space.

File formats (the dimension is read from the file):

- Parquet: the definition's ``id_column`` and either one list column of floats or several numeric columns;
- ``.npz``: arrays ``ids`` (N,) and ``embeddings`` (N, d).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelaudit.errors import InputDataError
from labelaudit.inputs.definition import DatasetDefinition, Feature, Role

__all__ = ["attach", "read_embedding_file"]


def read_embedding_file(path: Path, id_column: str) -> tuple[np.ndarray, np.ndarray]:
    """The ids (N,) and vectors (N, d) float64 of an embedding file, refusing what cannot be a vector block."""
    source = str(path)
    if not path.is_file():
        raise InputDataError("embedding file does not exist", source=source)
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("ids", "embeddings") if k not in data.files]
            if missing:
                raise InputDataError(f"the .npz file lacks the array(s) {missing} (it has {data.files})", source=source)
            ids, vectors = data["ids"], np.asarray(data["embeddings"], dtype=np.float64)
    elif path.suffix.lower() == ".parquet":
        ids, vectors = _read_parquet(path, id_column)
    else:
        raise InputDataError("an embedding file must be .parquet or .npz", source=source)
    if vectors.ndim != 2 or len(ids) != len(vectors):
        raise InputDataError(
            f"expected ids (N,) and vectors (N, d), got {ids.shape} and {vectors.shape}", source=source
        )
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise InputDataError("vectors with NaN or infinite values", source=source, rows=(bad[:20] + 1).tolist())
    return np.asarray(ids).astype(str), vectors


def _read_parquet(path: Path, id_column: str) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(path)
    if id_column not in frame.columns:
        raise InputDataError(f"no id column {id_column!r} in the embedding file", source=str(path), column=id_column)
    rest = [c for c in frame.columns if c != id_column]
    if len(rest) == 1 and frame[rest[0]].dtype == object:
        vectors = np.vstack(frame[rest[0]].to_numpy()).astype(np.float64)
    else:
        vectors = frame[rest].to_numpy(dtype=np.float64)
    return frame[id_column].to_numpy(), vectors


def attach(frame: pd.DataFrame, definition: DatasetDefinition, folder: Path) -> pd.DataFrame:
    """``frame`` with every file-based embedding block joined in by id as columns ``<name>_0`` ... ``<name>_{d-1}``.

    Every id of the batch must have a vector (a missing one is named); extra vectors in the file are ignored.
    A frame without file-based blocks is returned as it is.
    """
    blocks = [f for f in definition.features if f.role == Role.embedding and f.file]
    if not blocks:
        return frame
    if definition.id_column is None:
        raise InputDataError("an embedding file is keyed by id: the definition needs an id_column")
    ids = frame[definition.id_column].astype(str)
    parts = [frame]
    for feature in blocks:
        parts.append(_block(feature, ids, definition.id_column, folder))
    return pd.concat(parts, axis=1)


def _block(feature: Feature, ids: pd.Series, id_column: str, folder: Path) -> pd.DataFrame:
    path = Path(str(feature.file))
    path = path if path.is_absolute() else folder / path
    file_ids, vectors = read_embedding_file(path, id_column)
    position = pd.Series(np.arange(len(file_ids)), index=pd.Index(file_ids))
    if not position.index.is_unique:
        raise InputDataError("ids repeated in the embedding file", source=str(path), column=id_column)
    where = position.reindex(ids.to_numpy())
    missing = np.flatnonzero(where.isna().to_numpy())
    if missing.size:
        shown = ids.iloc[missing[:10]].tolist()
        raise InputDataError(
            f"{missing.size} id(s) of the batch have no vector in the embedding file, e.g. {shown}",
            source=str(path),
            column=id_column,
            rows=(missing[:20] + 1).tolist(),
        )
    columns = [f"{feature.name}_{i}" for i in range(vectors.shape[1])]
    return pd.DataFrame(vectors[where.to_numpy(dtype=np.int64)], columns=columns, index=ids.index)
