"""``labelaudit init``: a starting dataset definition inferred from a sample of a file.

It is a draft for a person to review, not a source of truth: the allowed labels are the ones seen in the
sample, and columns are assigned roles by simple rules (numbers are numeric; strings with few distinct values
are categorical; longer, varied strings are free text). The model is ``"auto"``: the audit compares the
candidate classifiers by out-of-fold log-loss and keeps the best (:mod:`labelaudit.models.selection`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pandas as pd

from labelaudit.errors import DefinitionError, InputDataError
from labelaudit.inputs.definition import (
    DatasetDefinition,
    Feature,
    ModelSpec,
    QualityThresholds,
    Role,
    dataset_folder,
    write_json,
)
from labelaudit.inputs.readers import ReadOptions, read_batch

_LABEL_NAMES = ("label", "labels", "class", "target", "category", "y")
_ID_NAMES = ("id", "row_id", "item_id", "uid", "key")


def _guess(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lowered = {str(c).lower(): str(c) for c in frame.columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _role(series: pd.Series) -> Role:
    if pd.api.types.is_bool_dtype(series):
        return Role.categorical
    if pd.api.types.is_numeric_dtype(series):
        return Role.numeric
    values = series.dropna().astype(str)
    distinct = values.nunique()
    if distinct <= max(20, int(0.05 * len(values))) and values.str.len().mean() < 40:
        return Role.categorical
    return Role.text


def label_candidates(frame: pd.DataFrame, *, limit: int = 10) -> list[str]:
    """Columns that could hold the labels: few distinct values (categorical-looking), fewest first.

    A label column repeats a small set of classes; ids, free text and measurements do not. With no such column,
    every column is a candidate.
    """
    counts = {}
    for column in frame.columns:
        values = frame[column].dropna()
        distinct = values.nunique()
        if 2 <= distinct <= max(20, int(0.05 * len(values))) and distinct < len(values):
            counts[str(column)] = distinct
    ranked = sorted(counts, key=lambda c: counts[c]) or [str(c) for c in frame.columns]
    return ranked[:limit]


def infer_definition(
    frame: pd.DataFrame, dataset: str, *, label_column: str | None = None, id_column: str | None = None
) -> tuple[DatasetDefinition, dict[str, Any], QualityThresholds]:
    """Definition, GX suite and quality thresholds for ``frame`` (see module docstring for the rules)."""
    label_column = label_column or _guess(frame, _LABEL_NAMES)
    if label_column is None:
        raise InputDataError(
            f"no label column could be guessed (none is named {', '.join(_LABEL_NAMES)}); pass --label with one "
            f"of the candidates: {', '.join(label_candidates(frame))}"
        )
    if label_column not in frame.columns:
        close = difflib.get_close_matches(label_column, [str(c) for c in frame.columns], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputDataError(
            f"label column {label_column!r} not found; {hint}columns: {', '.join(map(str, frame.columns))}"
        )
    id_column = id_column or _guess(frame, _ID_NAMES)
    if id_column is not None and id_column not in frame.columns:
        raise InputDataError(f"id column {id_column!r} not found (columns: {', '.join(map(str, frame.columns))})")
    features = [
        Feature(name=str(c), role=_role(frame[c]), required=not frame[c].isna().any())
        for c in frame.columns
        if c not in (label_column, id_column)
    ]
    classes = sorted(frame[label_column].dropna().astype(str).unique().tolist())
    definition = DatasetDefinition(
        name=dataset,
        label_column=label_column,
        id_column=id_column,
        features=features,
        classes=classes,
        model=ModelSpec(classifier="auto"),
    )
    return definition, build_suite(definition, frame), default_quality()


def default_quality() -> QualityThresholds:
    """The gate ``init`` writes: a label-error limit and the data-issue limits that need no knowledge of the data.

    - ``max_conflicting_duplicate_rate`` 0.01: identical features with different labels are the most direct
      evidence of a label error; more than 1 % of the rows is a labelling problem, not chance;
    - ``max_duplicate_rate`` 0.05: more than 5 % repeated rows is an export or join bug more often than real data;
    - ``max_outlier_rate`` 0.05: the outlier fence (log-scale, 2.5 IQR) flags about 0-1 % of ordinary rows;
    - ``max_label_drift_psi`` 0.1 (at ``label_drift_alpha`` 0.01): PSI above 0.1 with a significant chi-square
      is a real move of the class mix (the usual PSI reading); no false alarm over 20 same-mix batches;
    - ``min_class_share`` 0.1: cleanlab Datalab's class-imbalance line, a tenth of an even share.

    Left null (reported, not gated): ``max_near_duplicate_rate`` (how many rows lie close depends on how
    continuous the features are) and ``max_leaked_rate`` (whether an earlier accepted batch may repeat rows is
    the team's policy: re-auditing the same file repeats all of them).
    """
    return QualityThresholds(
        max_label_error_rate=0.1,
        max_conflicting_duplicate_rate=0.01,
        max_duplicate_rate=0.05,
        max_outlier_rate=0.05,
        max_label_drift_psi=0.1,
        min_class_share=0.1,
    )


def build_suite(definition: DatasetDefinition, frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The schema suite implied by a definition: columns, types, allowed labels, unique ids, required values."""
    expectations: list[dict[str, Any]] = []

    def add(code: str, kind: str, **kwargs: Any) -> None:
        expectations.append({"type": kind, "kwargs": kwargs, "meta": {"code": code}})

    columns = [definition.id_column, definition.label_column, *definition.feature_names]
    for column in filter(None, columns):
        add(f"COL-{column}", "expect_column_to_exist", column=column)
    add("LABEL-NOTNULL", "expect_column_values_to_not_be_null", column=definition.label_column)
    if definition.classes:
        add(
            "LABEL-SET",
            "expect_column_values_to_be_in_set",
            column=definition.label_column,
            value_set=definition.classes,
        )
    if definition.id_column:
        add("ID-NOTNULL", "expect_column_values_to_not_be_null", column=definition.id_column)
        add("ID-UNIQUE", "expect_column_values_to_be_unique", column=definition.id_column)
    numeric_types = ["int8", "int16", "int32", "int64", "float32", "float64", "Int64", "Float64"]
    for feature in definition.features:
        if feature.role == Role.embedding:  # a block of numeric columns; those of a pattern or file are unknown here
            for column in feature.column_names():
                add(f"TYPE-{column}", "expect_column_values_to_be_in_type_list", column=column, type_list=numeric_types)
            continue
        if feature.role == Role.numeric:
            add(
                f"TYPE-{feature.name}",
                "expect_column_values_to_be_in_type_list",
                column=feature.name,
                type_list=numeric_types,
            )
        else:
            add(f"TYPE-{feature.name}", "expect_column_values_to_be_of_type", column=feature.name, type_="str")
        if feature.required:
            add(f"NOTNULL-{feature.name}", "expect_column_values_to_not_be_null", column=feature.name)
    if frame is not None:
        add("ROWS", "expect_table_row_count_to_be_between", min_value=max(10, definition.folds * 2))
    return {"name": definition.name, "expectations": expectations, "meta": {"generated_by": "labelaudit init"}}


def write_definition(
    source: str,
    dataset: str,
    expectations_dir: Path,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    sample_rows: int = 100_000,
    overwrite: bool = False,
    options: ReadOptions | None = None,
) -> Path:
    """Infer a definition from the first ``sample_rows`` rows of ``source`` and write the three JSON files.

    ``options`` are the delimiter and encoding of a delimited file (default: sniffed delimiter, UTF-8).
    """
    folder = dataset_folder(expectations_dir, dataset)
    if (folder / "dataset.json").exists() and not overwrite:
        raise DefinitionError(f"{folder} already holds a definition; pass --force to overwrite it")
    names = tuple(c for c in (label_column, id_column) if c)
    frame, _ = read_batch(source, string_columns=names, options=options)
    definition, suite, quality = infer_definition(
        frame.head(sample_rows), dataset, label_column=label_column, id_column=id_column
    )
    write_json(folder / "dataset.json", definition.model_dump(mode="json"))
    write_json(folder / "suite.json", suite)
    write_json(folder / "quality.json", quality.model_dump(mode="json"))
    return folder
