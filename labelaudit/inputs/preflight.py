"""Checks that run before any machinery: a bad input is refused in about a second, not after a server start.

Everything that needs neither Prefect nor a model is checked here, in the order a person would fix it: the
dataset definition, the source (it exists, is a file of a known type, is not empty, parses), the columns the
definition needs, then the probabilities and annotations files. The full checks (the GX suite, labels, ids)
still run in the flow, where their results are stored with the run; these only make the common mistakes cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelaudit.errors import InputDataError
from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition, QualityThresholds, load_dataset
from labelaudit.settings import Settings

if TYPE_CHECKING:  # the reader (pandas, DuckDB) is imported only once the cheap checks have passed
    from labelaudit.inputs.readers import ReadOptions

#: Files up to this size are read whole (their parse errors then surface here); larger ones by their header.
READ_WHOLE_BYTES = 64 * 1024**2


def load_bundle(
    settings: Settings,
    dataset: str,
    *,
    folds: int | None = None,
    model: str | None = None,
    thresholds: dict[str, Any] | None = None,
) -> DatasetBundle:
    """The dataset definition with this run's overrides applied (validated like the files themselves)."""
    bundle = load_dataset(settings.expectations_dir, dataset)
    changes: dict[str, Any] = {}
    if folds is not None:
        changes["folds"] = folds
    if model is not None:
        changes["model"] = {"classifier": model, "params": {}}
    if changes:
        merged = bundle.definition.model_dump() | changes
        bundle = bundle.model_copy(update={"definition": DatasetDefinition.model_validate(merged)})
    if thresholds:
        quality = QualityThresholds.model_validate(bundle.quality.model_dump() | thresholds)
        bundle = bundle.model_copy(update={"quality": quality})
    return bundle


def required_columns(definition: DatasetDefinition) -> list[str]:
    """The batch columns a definition reads: label, id, annotator, tokens and every feature."""
    named = [definition.label_column, definition.id_column, definition.annotator_column, definition.tokens_column]
    return [c for c in named if c] + definition.feature_names


def check_audit_inputs(
    settings: Settings,
    dataset: str,
    source: str,
    *,
    folds: int | None = None,
    model: str | None = None,
    probabilities: str | None = None,
    annotations: str | None = None,
) -> DatasetBundle:
    """The checks that need no data read (about 0.1 s): the definition, and that every input file is there.

    Run before anything else is started, so the commonest mistakes (a dataset without a definition, a mistyped
    path) cost nothing, however busy the machine. :func:`check_source_columns` reads the source next.
    """
    bundle = load_bundle(settings, dataset, folds=folds, model=model)
    if not source.startswith("duckdb:"):
        check_file(source)
    if probabilities is not None:
        from labelaudit.inputs.probabilities import check_fits_in_memory

        check_file(probabilities)
        check_fits_in_memory(probabilities, settings.memory_budget)
    if annotations is not None:
        check_file(annotations)
    return bundle


def check_source_columns(source: str, bundle: DatasetBundle, read_options: ReadOptions | None = None) -> None:
    """The source parses, and has every column the definition reads."""
    present = read_columns(source, bundle.definition, read_options)
    check_columns(source, present, required_columns(bundle.definition))
    check_embedding_patterns(source, bundle, present)


def check_embedding_patterns(source: str, bundle: DatasetBundle, present: list[str] | None) -> None:
    """Refuse an embedding block whose column pattern matches no column of the source (a typo would otherwise
    fit a model without the block, silently); blocks read from a file are joined in by id later."""
    from labelaudit.inputs.definition import Role

    if present is None:
        return
    for feature in bundle.definition.features:
        if feature.role == Role.embedding and isinstance(feature.columns, str) and not feature.column_names(present):
            raise InputDataError(
                f"embedding feature {feature.name!r}: the pattern {feature.columns!r} matches no column "
                f"(the file has {len(present)}: {', '.join(present[:20])}{', ...' if len(present) > 20 else ''}); "
                f"fix the pattern in {bundle.definition.name}/dataset.json",
                source=source,
                column=feature.columns,
            )


def check_score_inputs(settings: Settings, dataset: str, source: str) -> DatasetBundle:
    """What ``labelaudit score`` can refuse at once: the definition, and a probabilities file that is not there."""
    bundle = load_bundle(settings, dataset)
    if not source.startswith("duckdb:"):
        path = Path(source)
        if not path.exists():
            raise InputDataError("file does not exist", source=source)
    return bundle


def check_file(path: str) -> Path:
    """An input file that exists, is a file and is not empty."""
    file = Path(path)
    if not file.exists():
        raise InputDataError("file does not exist", source=path)
    if file.is_dir():
        raise InputDataError("is a folder, not a file", source=path)
    if file.stat().st_size == 0:
        raise InputDataError("file is empty", source=path)
    return file


def read_columns(
    source: str, definition: DatasetDefinition, read_options: ReadOptions | None = None
) -> list[str] | None:
    """The source's column names (``None`` for a DuckDB query, checked in the flow), refusing unreadable files.

    Small files are read whole by the same reader the flow uses, so a malformed file fails here with the
    reader's own message; larger ones are checked by their header only.
    """
    from labelaudit.inputs.readers import ReadOptions, preflight, read_batch, sniff_dialect

    preflight(source, options=read_options)  # cheap: URL and query, size vs budget, binary content, delimiter
    if source.startswith("duckdb:"):
        return None
    file = check_file(source)
    text_columns = tuple(c for c in (definition.id_column, definition.label_column) if c)
    if file.stat().st_size <= READ_WHOLE_BYTES or file.suffix.lower() not in (".csv", ".tsv", ".txt", ".parquet"):
        frame, _ = read_batch(source, string_columns=text_columns, options=read_options)
        return [str(c) for c in frame.columns]
    if file.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(file).names)
    import pandas as pd

    fmt = "tsv" if file.suffix.lower() == ".tsv" else "csv"
    delimiter, encoding, _ = sniff_dialect(file, fmt, read_options or ReadOptions())
    head = pd.read_csv(file, sep=delimiter, encoding=encoding, nrows=50)
    return [str(c) for c in head.columns]


def check_columns(source: str, present: list[str] | None, needed: list[str]) -> None:
    """Name every column the definition needs that the source lacks, with the columns it has."""
    if present is None:
        return
    missing = [c for c in needed if c not in present]
    if missing:
        raise InputDataError(
            f"missing column(s) {', '.join(repr(c) for c in missing)} that the dataset definition needs "
            f"(the file has {len(present)}: {', '.join(present[:20])}{', ...' if len(present) > 20 else ''})",
            source=source,
            column=missing[0],
        )
