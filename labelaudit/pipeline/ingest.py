"""Stage ``ingest``: where the rows come from, and what is stored of them (tables ``batches``,
``ingested_columns``, ``ingested_rows``).

:func:`ingest` reads a CSV/TSV/Parquet batch into memory and stores every row. ``labelaudit score`` stores a
probabilities file's metadata only (:func:`labelaudit.pipeline.streamed.ingest_probability_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.readers import ReadOptions, SourceInfo, prepare_frame, read_batch
from labelaudit.models.embeddings import attach
from labelaudit.pipeline.recording import recording
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

__all__ = ["Batch", "ingest"]


@dataclass(frozen=True)
class Batch:
    """An ingested batch: the rows as read, their ids, and where they came from."""

    frame: pd.DataFrame
    row_ids: pd.Series
    source: SourceInfo


def ingest(
    store: AuditStore, run_id: str, source: str, bundle: DatasetBundle, options: ReadOptions | None = None
) -> Batch:
    """Read ``source`` and store its rows (every column, as JSON), its column types and its content hash.

    ``options`` give a delimited file's delimiter and encoding (default: sniffed, UTF-8). The definition's
    label normalisation is applied and infinite feature values refused before anything is stored.
    """
    definition = bundle.definition
    with recording(store, run_id, "ingest") as started:
        text_columns = tuple(
            c
            for c in (
                definition.id_column,
                definition.label_column,
                definition.annotator_column,
                definition.tokens_column,
            )
            if c
        )
        frame, info = read_batch(source, string_columns=text_columns, options=options)
        frame = prepare_frame(frame, definition, info.path)
        # embedding vectors from a file, joined in by id for fitting; the stored rows stay the batch as read
        fitted = attach(frame, definition, bundle.folder)
        if definition.id_column and definition.id_column in frame.columns:
            row_ids = frame[definition.id_column].astype("str")
        else:
            row_ids = pd.Series(np.arange(1, len(frame) + 1).astype(str), index=frame.index, dtype="str")
        rows = pd.DataFrame(
            {
                "row_idx": np.arange(len(frame), dtype=np.int64),
                "row_id": row_ids.fillna("").to_numpy(),
                "given_label": frame[definition.label_column].to_numpy()
                if definition.label_column in frame.columns
                else None,
                "record": frame.to_json(
                    orient="records", lines=True, force_ascii=False, date_format="iso"
                ).splitlines(),
            }
        )
        batches = pd.DataFrame([{**info.__dict__, "ingested_at": utcnow()}])
        store.write_stage(
            run_id,
            "ingest",
            StageWrite(
                {"batches": batches, "ingested_columns": _column_roles(frame, bundle), "ingested_rows": rows},
                started,
                rows=len(frame),
                message=f"{info.path} ({info.format}, sha256 {info.sha256[:12]})",
            ),
        )
    return Batch(fitted, row_ids, info)


def _column_roles(frame: pd.DataFrame, bundle: DatasetBundle) -> pd.DataFrame:
    definition = bundle.definition
    roles = {f.name: f.role.value for f in definition.features}
    roles.update({definition.label_column: "label"})
    if definition.id_column:
        roles[definition.id_column] = "id"
    if definition.annotator_column:
        roles[definition.annotator_column] = "annotator"
    if definition.tokens_column:
        roles[definition.tokens_column] = "tokens"
    return pd.DataFrame(
        {
            "position": np.arange(len(frame.columns), dtype=np.int32),
            "column_name": [str(c) for c in frame.columns],
            "dtype": [str(t) for t in frame.dtypes],
            "role": [roles.get(str(c), "other") for c in frame.columns],
        }
    )
