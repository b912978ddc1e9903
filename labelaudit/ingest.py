"""Reading a batch: CSV, TSV, Parquet, or a query against a DuckDB database.

Errors name the file and, where the reader knows it, the line, because the person who sees them has to open
that file and fix it. Identifiers and labels are read as strings: an id like ``007`` or a label like ``1``
must survive exactly as the annotators wrote it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import pandas as pd

from labelaudit.errors import InputDataError

#: Files larger than this are refused by the in-memory reader (see ``labelaudit.outofcore`` for big data).
DEFAULT_MAX_BYTES = 4 * 1024**3

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class SourceInfo:
    """Where a batch came from, recorded with the run so a batch is never audited twice unknowingly."""

    path: str
    format: str
    sha256: str
    bytes: int | None
    rows: int


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """Content hash of a file, streamed so a large file is not read into memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_batch(
    source: str, *, string_columns: tuple[str, ...] = (), max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[pd.DataFrame, SourceInfo]:
    """Read ``source`` into a DataFrame.

    Parameters
    ----------
    source : str
        A ``.csv``/``.tsv``/``.parquet`` path, or ``duckdb:///path/to/db.duckdb?query=SELECT ...`` (or
        ``?table=name``) for data already in DuckDB.
    string_columns : tuple of str
        Columns read as text whatever they look like (the id and label columns).
    max_bytes : int
        Larger files are refused with a pointer to the out-of-core path instead of exhausting memory.
    """
    if source.startswith("duckdb:"):
        return _read_duckdb(source, string_columns)
    path = Path(source)
    if not path.exists():
        raise InputDataError("file does not exist", source=source)
    if path.is_dir():
        raise InputDataError("is a folder, not a file", source=source)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputDataError(
            f"unsupported file type {path.suffix or '(none)'!r}; use .csv, .tsv or .parquet, "
            "or duckdb:///db.duckdb?query=...",
            source=source,
        )
    size = path.stat().st_size
    if size == 0:
        raise InputDataError("file is empty", source=source)
    if size > max_bytes:
        raise InputDataError(
            f"file is {size / 1024**3:.1f} GiB, above the in-memory limit of {max_bytes / 1024**3:.1f} GiB; "
            "fit your model elsewhere and score its probabilities out of core (see docs/scoring.md)",
            source=source,
        )
    frame = _read_parquet(path) if fmt == "parquet" else _read_delimited(path, fmt, string_columns)
    frame = _as_strings(frame, string_columns)
    if frame.empty:
        raise InputDataError("has a header but no rows", source=source)
    return frame, SourceInfo(str(path), fmt, file_sha256(path), size, len(frame))


def _read_delimited(path: Path, fmt: str, string_columns: tuple[str, ...]) -> pd.DataFrame:
    dtypes = dict.fromkeys(string_columns, "str")
    try:
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", dtype=dtypes, keep_default_na=True)
    except pd.errors.EmptyDataError as exc:
        raise InputDataError("file has no header and no rows", source=str(path)) from exc
    except pd.errors.ParserError as exc:
        # pandas says e.g. "Error tokenizing data. C error: Expected 3 fields in line 5, saw 4"
        detail = str(exc).split("C error: ")[-1].strip()
        raise InputDataError(f"malformed {fmt.upper()}: {detail}", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputDataError(f"is not UTF-8 text (byte {exc.start}); save it as UTF-8", source=str(path)) from exc
    except ValueError as exc:  # a dtype that cannot be applied, e.g. an id column missing from the header
        raise InputDataError(str(exc), source=str(path)) from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise InputDataError(f"cannot be read as Parquet: {exc}", source=str(path)) from exc


def _read_duckdb(source: str, string_columns: tuple[str, ...]) -> tuple[pd.DataFrame, SourceInfo]:
    parsed = urlparse(source)
    db_path = Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)
    options = parse_qs(parsed.query)
    if "query" in options:
        query = options["query"][0]
    elif "table" in options:
        query = f'SELECT * FROM "{options["table"][0].replace(chr(34), chr(34) * 2)}"'
    else:
        raise InputDataError("a duckdb source needs ?query=SELECT... or ?table=name", source=source)
    if not db_path.exists():
        raise InputDataError("database file does not exist", source=str(db_path))
    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            frame = con.execute(query).df()
    except duckdb.Error as exc:
        raise InputDataError(f"query failed: {exc}", source=source) from exc
    frame = _as_strings(frame, string_columns)
    if frame.empty:
        raise InputDataError("query returned no rows", source=source)
    digest = hashlib.sha256(query.encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return frame, SourceInfo(source, "duckdb", digest.hexdigest(), None, len(frame))


def _as_strings(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Cast id/label columns to the string dtype, keeping missing values missing (not the text 'nan')."""
    for column in columns:
        if column in frame.columns and frame[column].dtype != "str":
            values = frame[column]
            frame[column] = values.where(values.isna(), values.astype(str)).astype("str")
    return frame
