"""Reading a batch: CSV, TSV, Parquet, or a query against a DuckDB database.

Errors name the file and, where the reader knows it, the line, because the person who sees them has to open
that file and fix it. Identifiers and labels are read as strings: an id like ``007`` or a label like ``1``
must survive exactly as the annotators wrote it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labelaudit.errors import InputDataError
from labelaudit.inputs.sources import is_duckdb_url, parse_duckdb_url, read_duckdb

if TYPE_CHECKING:
    from labelaudit.inputs.definition import DatasetDefinition

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_DEFAULT_DELIMITER = {"csv": ",", "tsv": "\t"}
#: Separators tried when sniffing (what spreadsheets export: comma, semicolon in many locales, tab, pipe).
CANDIDATE_DELIMITERS = ",;\t|"
#: Bytes read from the start of a file to sniff its delimiter and spot binary content.
SNIFF_BYTES = 64 * 1024
_DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a delimited file, when sniffing is not what the user wants.

    ``delimiter`` ``None`` sniffs ``.csv``/``.txt`` files among :data:`CANDIDATE_DELIMITERS` (``.tsv``: tab);
    ``encoding`` ``None`` is UTF-8 (a byte-order mark is accepted). Both are ignored for Parquet and DuckDB.
    """

    delimiter: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    """Where a batch came from, recorded with the run so a batch is never audited twice unknowingly.

    ``format`` is ``csv``, ``tsv``, ``parquet`` or ``duckdb``; for a delimited file read with a delimiter other
    than its extension's default, or another encoding than UTF-8, it says so (``csv, delimiter ';'``).
    """

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


def _budget(max_bytes: int | None) -> int:
    if max_bytes is not None:
        return max_bytes
    from labelaudit.settings import Settings

    return Settings().memory_budget


def read_batch(
    source: str,
    *,
    string_columns: tuple[str, ...] = (),
    max_bytes: int | None = None,
    options: ReadOptions | None = None,
) -> tuple[pd.DataFrame, SourceInfo]:
    """Read ``source`` into a DataFrame.

    Parameters
    ----------
    source : str
        A ``.csv``/``.tsv``/``.parquet`` path, or ``duckdb:///path/to/db.duckdb?query=SELECT ...`` (or
        ``?table=name``) for data already in DuckDB (URL rules: :mod:`labelaudit.inputs.sources`).
    string_columns : tuple of str
        Columns read as text whatever they look like (the id and label columns).
    max_bytes : int, optional
        Larger files are refused before reading (default: the memory budget, ``LABELAUDIT_MEMORY_BUDGET``),
        with a pointer to the out-of-core path, instead of exhausting memory.
    options : ReadOptions, optional
        Delimiter and encoding of a delimited file; default: sniffed delimiter, UTF-8.
    """
    options = options or ReadOptions()
    if is_duckdb_url(source):
        return _read_duckdb(source, string_columns)
    path, fmt, size = _checked_file(source, _budget(max_bytes))
    if fmt == "parquet":
        frame, described = _read_parquet(path), fmt
    else:
        delimiter, encoding, _ = sniff_dialect(path, fmt, options)
        frame = _read_delimited(path, fmt, string_columns, delimiter, encoding)
        described = describe_dialect(fmt, delimiter, encoding)
    frame = _as_strings(frame, string_columns)
    if frame.empty:
        raise InputDataError("has a header but no rows", source=source)
    return frame, SourceInfo(str(path), described, file_sha256(path), size, len(frame))


def preflight(source: str, *, options: ReadOptions | None = None, max_bytes: int | None = None) -> str:
    """Cheap checks of ``source`` before any run starts; returns how it will be read (``csv, delimiter ';'``).

    Reads at most the first :data:`SNIFF_BYTES` of a file: existence, type, size against the memory budget,
    binary content, the delimiter; for a DuckDB source the URL, the database file and that the query is one
    ``SELECT``. Raises :class:`InputDataError` naming the file, like :func:`read_batch` would later, but
    without loading Prefect, Great Expectations or the data. The command line calls it first.
    """
    options = options or ReadOptions()
    if is_duckdb_url(source):
        parsed = parse_duckdb_url(source)
        if not parsed.database.is_file():
            raise InputDataError("database file does not exist", source=str(parsed.database))
        return "duckdb"
    path, fmt, _ = _checked_file(source, _budget(max_bytes))
    if fmt == "parquet":
        return fmt
    delimiter, encoding, sniffed = sniff_dialect(path, fmt, options)
    described = describe_dialect(fmt, delimiter, encoding)
    return f"{described} (detected)" if sniffed and delimiter != _DEFAULT_DELIMITER[fmt] else described


def _checked_file(source: str, max_bytes: int) -> tuple[Path, str, int]:
    """The path, format and size of a batch file, refusing what cannot be an in-memory batch."""
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
            f"file is {_size(size)}, above the memory budget of {_size(max_bytes)} (LABELAUDIT_MEMORY_BUDGET); "
            "raise the budget, or fit your model elsewhere and score its probabilities out of core with "
            "labelaudit score (see docs/scoring.md)",
            source=source,
        )
    return path, fmt, size


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB" if n >= 1024**2 else f"{n} bytes"


def _normalise_delimiter(value: str) -> str:
    delimiter = _DELIMITER_NAMES.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InputDataError(
            f"delimiter {value!r} must be one character (or tab, comma, semicolon, pipe), not a quote or newline"
        )
    return delimiter


def _encoding_name(value: str | None) -> str:
    if value is None:
        return "utf-8"
    try:
        return codecs.lookup(value).name
    except LookupError as exc:
        raise InputDataError(f"unknown encoding {value!r}; use e.g. utf-8, cp1252 or latin-1") from exc


def sniff_dialect(path: Path, fmt: str, options: ReadOptions) -> tuple[str, str, bool]:
    """The delimiter and encoding to read ``path`` with, and whether the delimiter was sniffed.

    Refuses binary content (a NUL byte in the first :data:`SNIFF_BYTES`) before pandas would try to parse it:
    a large binary file otherwise costs several times its size in memory before failing.
    """
    encoding = _encoding_name(options.encoding)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    nul = head.find(b"\x00")
    if nul >= 0 and not encoding.startswith("utf-16") and not encoding.startswith("utf-32"):
        raise InputDataError(
            f"holds binary data (a NUL byte at byte {nul}), not {fmt.upper()} text: "
            "is it the right file, or a Parquet/Excel file with the wrong extension?",
            source=str(path),
        )
    if options.delimiter is not None:
        return _normalise_delimiter(options.delimiter), encoding, False
    if fmt == "tsv":
        return "\t", encoding, False
    text = head.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    if len(head) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # a cut last line would mislead the sniffer
    return _sniff_delimiter(text), encoding, True


def _sniff_delimiter(text: str) -> str:
    """:class:`csv.Sniffer` on the sample; a comma when it cannot tell or when its choice leaves one column."""
    lines = text.splitlines()[:50]
    sample = "\n".join(lines) + "\n"
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        return ","
    header = next(csv.reader([lines[0]], delimiter=delimiter), []) if lines else []
    return delimiter if len(header) > 1 else ","


def describe_dialect(fmt: str, delimiter: str, encoding: str) -> str:
    """``csv``, or ``csv, delimiter ';', encoding cp1252`` when either differs from the format's default."""
    parts = [fmt]
    if delimiter != _DEFAULT_DELIMITER.get(fmt, ","):
        parts.append(f"delimiter {delimiter!r}")
    if encoding != "utf-8":
        parts.append(f"encoding {encoding}")
    return ", ".join(parts)


def _read_delimited(
    path: Path, fmt: str, string_columns: tuple[str, ...], delimiter: str, encoding: str
) -> pd.DataFrame:
    dtypes = dict.fromkeys(string_columns, "str")
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=dtypes, keep_default_na=True, encoding=encoding)
    except pd.errors.EmptyDataError as exc:
        raise InputDataError("file has no header and no rows", source=str(path)) from exc
    except pd.errors.ParserError as exc:
        # pandas says e.g. "Error tokenizing data. C error: Expected 3 fields in line 5, saw 4"
        detail = str(exc).split("C error: ")[-1].strip()
        message = f"malformed {fmt.upper()}: {detail} (read with delimiter {delimiter!r}; see --delimiter)"
        raise InputDataError(message, source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputDataError(_decode_problem(path, encoding), source=str(path)) from exc
    except ValueError as exc:  # a dtype that cannot be applied, e.g. an id column missing from the header
        raise InputDataError(str(exc), source=str(path)) from exc
    _refuse_one_joined_column(frame, path, delimiter)
    return frame


def _refuse_one_joined_column(frame: pd.DataFrame, path: Path, delimiter: str) -> None:
    """A single column whose name holds another separator: the file was read with the wrong delimiter."""
    if frame.shape[1] != 1:
        return
    name = str(frame.columns[0])
    found = [d for d in CANDIDATE_DELIMITERS if d != delimiter and d in name]
    if found:
        raise InputDataError(
            f"read with delimiter {delimiter!r}, the file has a single column {name[:80]!r}, which contains "
            f"{found[0]!r}: the file looks {found[0]!r}-separated; pass --delimiter {found[0]!r}",
            source=str(path),
        )


def _decode_problem(path: Path, encoding: str) -> str:
    """Where a file stops being ``encoding`` text: the line, the bytes, and what they read as in Windows-1252.

    pandas' own error gives an offset within one of its internal chunks; re-decoding the file in a stream
    finds the real line (only on this error path, so reading valid files costs nothing more).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset, name = 1, 0, "UTF-8" if encoding == "utf-8" else encoding
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = block[exc.start : exc.end]
                line += block[: exc.start].count(b"\n")
                begin = block.rfind(b"\n", 0, exc.start) + 1
                end = block.find(b"\n", exc.start)
                text = block[begin : end if end >= 0 else len(block)][:200].decode("cp1252", errors="replace")
                return (
                    f"is not {name} text: line {line} (row {line - 1} after the header, byte {offset + exc.start}) "
                    f"holds {bad!r}; in Windows-1252/Latin-1 the line reads {text.strip()!r}; "
                    "pass --encoding cp1252 (or latin-1), or save the file as UTF-8"
                )
            line += block.count(b"\n")
            offset += len(block)
    return f"is not {name} text; pass --encoding (e.g. cp1252 or latin-1), or save it as UTF-8"


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise InputDataError(f"cannot be read as Parquet: {exc}", source=str(path)) from exc


def _read_duckdb(source: str, string_columns: tuple[str, ...]) -> tuple[pd.DataFrame, SourceInfo]:
    parsed = parse_duckdb_url(source)
    frame = _as_strings(read_duckdb(parsed, source), string_columns)
    if frame.empty:
        raise InputDataError("query returned no rows", source=source)
    digest = hashlib.sha256(parsed.query.encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return frame, SourceInfo(source, "duckdb", digest.hexdigest(), None, len(frame))


def prepare_frame(frame: pd.DataFrame, definition: DatasetDefinition, source: str) -> pd.DataFrame:
    """Apply the definition's label normalisation, then refuse infinite feature values, naming column and rows.

    Runs right after reading, before anything is stored: scikit-learn would otherwise fail deep in fitting
    with "Input X contains infinity", naming no column.
    """
    label = definition.label_column
    if definition.label_normalisation == "strip" and label in frame.columns:
        values = frame[label]
        frame[label] = values.where(values.isna(), values.astype(str).str.strip())
    _refuse_infinities(frame, definition.feature_names, source)
    return frame


def _refuse_infinities(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    found: dict[str, list[int]] = {}
    for column in columns:
        if column in frame.columns and pd.api.types.is_float_dtype(frame[column]):
            rows = np.flatnonzero(np.isinf(frame[column].to_numpy(dtype="float64", na_value=np.nan)))
            if rows.size:
                found[column] = (rows + 1).tolist()
    if found:
        first, *others = found
        also = f" (also in columns {', '.join(others)})" if others else ""
        raise InputDataError(
            f"holds infinite values{also}; replace them with a finite number or leave the cell empty",
            source=source,
            column=first,
            rows=found[first],
        )


def _as_strings(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Cast id/label columns to the string dtype, keeping missing values missing (not the text 'nan')."""
    for column in columns:
        if column in frame.columns and frame[column].dtype != "str":
            values = frame[column]
            frame[column] = values.where(values.isna(), values.astype(str)).astype("str")
    return frame
