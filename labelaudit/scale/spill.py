"""Values grouped by key, written once per partition and read back one key at a time in row order.

Why: two statistics need all of one group's values in one place. A class threshold is ``np.mean`` over the
class's self-confidences in row order (numpy's pairwise float summation depends on the values *and* their order
and on nothing else, so the same values in the same order give the same bits as in memory and as cleanlab); and
id uniqueness needs every id of one hash bucket together. Each partition writes one file holding its values
sorted by key (stably, so row order is kept inside a key) and returns the count per key; reading key ``k`` takes
the slice of each partition's file in partition order, which is the key's values in global row order.

Memory of reading key ``k``: its values only (``N_k x itemsize`` bytes on ONE worker per key; 400 MB for a class
of 10^8 float32 rows), never all N values. Any fsspec location works, so workers on other machines can share it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["read_group", "write_grouped"]


def _fs(url: str):
    import fsspec.core

    return fsspec.core.url_to_fs(url)


def write_grouped(url: str, values: np.ndarray, keys: np.ndarray, num_keys: int) -> np.ndarray:
    """Write `values` (N,) sorted stably by `keys` (N,) to `url`; return the count per key, shape (num_keys,)."""
    order = np.argsort(keys, kind="stable")
    fs, path = _fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as handle:
        handle.write(np.ascontiguousarray(values[order]).tobytes())
    return np.bincount(keys, minlength=num_keys).astype(np.int64)


def read_group(pieces: list[tuple[str, int, int]], dtype: str) -> np.ndarray:
    """Concatenate, in the order given, ``count`` values at item ``offset`` of each ``(url, offset, count)``."""
    itemsize = np.dtype(dtype).itemsize
    out = np.empty(sum(count for _, _, count in pieces), dtype=dtype)
    at = 0
    for url, offset, count in pieces:
        if count == 0:
            continue
        fs, path = _fs(url)
        with fs.open(path, "rb") as handle:
            handle.seek(offset * itemsize)
            data = handle.read(count * itemsize)
        out[at : at + count] = np.frombuffer(data, dtype=dtype)
        at += count
    return out


def group_pieces(urls: list[str], counts: np.ndarray, key: int) -> list[tuple[str, int, int]]:
    """The ``(url, offset, count)`` slices of `key` in each partition's file; `counts` is (partitions, keys)."""
    offsets = np.cumsum(counts, axis=1) - counts
    return [(url, int(offsets[i, key]), int(counts[i, key])) for i, url in enumerate(urls) if counts[i, key]]
