"""One stable 64-bit hash per row of a batch's features, so equal items are found in linear time.

Two rows get the same hash when their feature values are equal after this normalisation (the id and label
columns never enter the hash):

- **numbers** (and every column of an ``embedding`` feature): every value that reads as a finite or missing
  number is hashed as a float64, so ``1``, ``1.0``, ``"1.0"`` and ``" 1 "`` read from different files agree,
  and so do ``0.0`` and ``-0.0``. Integers beyond 2**53 lose their last digits (float64), which can only merge
  values that differ in those digits;
- **text** (role ``text``, and a token batch's tokens column): Unicode NFKC, then case-folded, then every run
  of whitespace collapsed to one space and the ends stripped: ``"Ｃafé  Noir "`` equals ``"café noir"``;
- **categories** (role ``categorical``, and any value of a numeric column that is not a number): NFKC and
  stripped, case kept (``"A"`` and ``"a"`` are different categories);
- **missing**: ``NaN``, ``None``, ``pd.NA`` and text that is blank after normalisation are one value,
  different from every number and text.

Each cell is hashed with pandas' ``hash_array`` (SipHash-2-4 with pandas' fixed key for text, a bit mix of the
float64 for numbers; the same on every machine and process), tagged by kind so the text ``"nan"`` never
equals a missing value, and the cells of a row are combined in the definition's feature order, mixing in each
column's name. The hash of a row depends on that row only, so hashing a batch in chunks, or per Dask partition
(``ddf.map_partitions(row_hashes, definition, meta=("hash", "u8"))``), gives the same values as hashing it
whole. With 64 bits, the chance that two different rows among a million share a hash is about 3e-8.

:data:`HASH_SCHEME` names this recipe; store it with the hashes, and compare hashes only within one scheme
and one feature list (:func:`feature_key`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetDefinition, Role

#: Bumped whenever the normalisation or the hashing changes: hashes of different schemes never compare.
HASH_SCHEME = "v1"

_TEXT_TAG = np.uint64(0x9E3779B97F4A7C15)
_MISSING = np.uint64(0x5851F42D4C957F2D)
_MULT = np.uint64(0x100000001B3)


def hashed_columns(definition: DatasetDefinition, available: list[str] | None = None) -> list[tuple[str, Role]]:
    """The columns that make a row's identity, with the role that decides their normalisation.

    The features in their declared order (an embedding block as its numeric columns, a pattern matched against
    ``available``), and for token batches the tokens column (a sentence is its tokens).
    """
    columns = [
        (column, Role.numeric if f.role == Role.embedding else f.role)
        for f in definition.features
        for column in f.column_names(available)
    ]
    if definition.tokens_column:
        columns.append((definition.tokens_column, Role.text))
    return columns


def feature_key(definition: DatasetDefinition, available: list[str] | None = None) -> str:
    """A short fingerprint of the scheme and the hashed columns: hashes compare only under the same key."""
    columns = hashed_columns(definition, available)
    spec = HASH_SCHEME + "|" + "|".join(f"{name}:{role}" for name, role in columns)
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def row_hashes(frame: pd.DataFrame, definition: DatasetDefinition) -> pd.Series:
    """The hash of each row of ``frame`` (a whole batch, a chunk of it, or a Dask partition).

    Parameters
    ----------
    frame : pd.DataFrame (N, ...)
        Holds at least the columns of :func:`hashed_columns`; other columns (id, label) are ignored.
    definition : DatasetDefinition
        Says which columns are hashed and how each is normalised.

    Returns
    -------
    hashes : pd.Series of uint64 (N,)
        On ``frame``'s index, named ``hash``.

    Raises
    ------
    KeyError
        When a hashed column is missing from ``frame``, naming it.
    """
    columns = hashed_columns(definition, list(frame.columns))
    missing = [name for name, _ in columns if name not in frame.columns]
    if missing:
        raise KeyError(f"cannot hash rows: columns {missing} of the definition are not in the batch")
    combined = np.full(len(frame), np.uint64(0x345678), dtype=np.uint64)
    for name, role in columns:
        cells = column_hashes(frame[name], role)
        salt = np.uint64(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))
        combined = (combined ^ (cells + salt)) * _MULT
    return pd.Series(_mix(combined), index=frame.index, name="hash")


def iter_row_hashes(chunks: Iterable[pd.DataFrame], definition: DatasetDefinition) -> Iterator[pd.Series]:
    """:func:`row_hashes` of each chunk in turn: a batch larger than memory is hashed a chunk at a time."""
    for chunk in chunks:
        yield row_hashes(chunk, definition)


def column_hashes(values: pd.Series, role: Role) -> np.ndarray:
    """One uint64 per cell of a column, after the module's normalisation for ``role``.

    Numeric columns take a vectorised path; other columns are normalised once per distinct value (categories
    repeat, so this is cheap) and the hashes are taken back to the rows through the factorised codes.
    """
    if role == Role.numeric and (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        return _number_hashes(values.to_numpy(dtype="float64", na_value=np.nan))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.full(len(values), _MISSING, dtype=np.uint64)
    unique_hashes = _value_hashes(pd.Series(np.asarray(uniques, dtype=object), dtype=object), role)
    return np.where(codes < 0, _MISSING, unique_hashes[np.maximum(codes, 0)])


def _value_hashes(uniques: pd.Series, role: Role) -> np.ndarray:
    """Hashes of distinct non-missing values: numbers as float64, the rest as normalised text."""
    numbers = pd.to_numeric(uniques.map(_strip_if_text), errors="coerce").astype("float64")
    is_number = numbers.notna().to_numpy()
    text = normalise_text(uniques.astype(str), casefold=role == Role.text)
    out = np.asarray(pd.util.hash_array(text.to_numpy(dtype=object)), dtype=np.uint64) ^ _TEXT_TAG
    out = np.where(text.to_numpy(dtype=object) == "", _MISSING, out)
    return np.where(is_number, _number_hashes(numbers.to_numpy()), out)


def _strip_if_text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _number_hashes(values: np.ndarray) -> np.ndarray:
    """float64 hashes; pandas maps every NaN bit pattern to one and -0.0 to 0.0. Missing gets its own tag."""
    hashes = np.asarray(pd.util.hash_array(values.astype("float64", copy=False)), dtype=np.uint64)
    return np.where(np.isnan(values), _MISSING, hashes)


def normalise_text(values: pd.Series, *, casefold: bool) -> pd.Series:
    """NFKC, optionally case-folded, whitespace runs collapsed to one space, ends stripped."""
    text = values.str.normalize("NFKC")
    if casefold:
        text = text.str.casefold()
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _mix(values: np.ndarray) -> np.ndarray:
    """A final avalanche (splitmix64's finaliser), so the combined hash spreads over all 64 bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))
