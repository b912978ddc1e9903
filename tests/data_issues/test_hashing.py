"""Row hashes: equal items hash equal after normalisation, different items differ, chunks agree with the whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.hashing import feature_key, hashed_columns, iter_row_hashes, row_hashes
from labelaudit.inputs.definition import DatasetDefinition


def _definition(**extra) -> DatasetDefinition:
    features = [
        {"name": "n", "role": "numeric"},
        {"name": "c", "role": "categorical"},
        {"name": "t", "role": "text"},
    ]
    return DatasetDefinition(name="d", label_column="y", id_column="id", features=features, **extra)


def test_numbers_text_and_missing_values_are_normalised() -> None:
    written = pd.DataFrame(
        {"n": [1, 2, np.nan, -0.0], "c": ["A", 1, None, "x"], "t": ["Ｃafé  Noir ", "b", None, "  "]}
    )
    reread = pd.DataFrame(
        {"n": ["1.0", " 2 ", None, "0"], "c": [" A", "1.0", np.nan, "x"], "t": ["café noir", "B", pd.NA, None]}
    )

    assert row_hashes(written, _definition()).tolist() == row_hashes(reread, _definition()).tolist()


@pytest.mark.parametrize(
    ("column", "value", "other"),
    [
        ("n", 1.0, 1.001),
        ("c", "A", "a"),  # categories keep their case
        ("t", "nan", None),  # the text "nan" is not a missing value
        ("t", "a b", "ab"),
        ("c", "0", None),  # zero is not missing
    ],
)
def test_different_values_hash_differently(column: str, value: object, other: object) -> None:
    frame = pd.DataFrame({"n": [5.0, 5.0], "c": ["k", "k"], "t": ["w", "w"]}, dtype=object)
    frame.loc[0, column], frame.loc[1, column] = value, other

    first, second = row_hashes(frame, _definition())
    assert first != second


def test_id_and_label_do_not_enter_the_hash_but_column_order_does() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "y": ["cat", "dog"], "n": [1.0, 1.0], "c": ["k", "k"], "t": ["w", "w"]})
    hashes = row_hashes(frame, _definition())
    assert hashes[0] == hashes[1]

    swapped = pd.DataFrame({"n": [1.0], "c": ["w"], "t": ["k"]})
    assert row_hashes(swapped, _definition())[0] != hashes[0]


def test_distinct_rows_get_distinct_hashes() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"n": rng.integers(0, 10**9, 200_000), "c": rng.choice(list("abcdefgh"), 200_000), "t": "same"}
    ).drop_duplicates()

    assert row_hashes(frame, _definition()).nunique() == len(frame)


def test_chunks_and_a_csv_round_trip_give_the_same_hashes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(1000)],
            "n": rng.integers(0, 5, 1000),
            "c": rng.choice(["x", "y", "7"], 1000),
            "t": rng.choice(["Hello  World", "hello world", "bye"], 1000),
        }
    )
    whole = row_hashes(frame, _definition())
    chunks = pd.concat(list(iter_row_hashes((frame.iloc[i : i + 97] for i in range(0, 1000, 97)), _definition())))
    frame.assign(n=frame["n"].astype(float)).to_csv(tmp_path / "b.csv", index=False)
    pieces = pd.read_csv(tmp_path / "b.csv", chunksize=300)

    assert chunks.tolist() == whole.tolist()
    assert pd.concat(list(iter_row_hashes(pieces, _definition()))).tolist() == whole.tolist()


def test_dask_partitions_hash_like_the_whole_frame() -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"n": np.arange(500) % 7, "c": ["a", "b"] * 250, "t": ["x y"] * 500})
    ddf = dd.from_pandas(frame, npartitions=4)

    hashes = ddf.map_partitions(row_hashes, _definition(), meta=("hash", "u8")).compute()

    assert hashes.tolist() == row_hashes(frame, _definition()).tolist()


def test_token_batches_hash_their_tokens_and_embeddings_their_columns() -> None:
    token = DatasetDefinition(name="ner", label_column="labels", tokens_column="tokens", label_type="token")
    embedded = DatasetDefinition(
        name="e", label_column="y", features=[{"name": "emb", "role": "embedding", "columns": "emb_*"}]
    )
    frame = pd.DataFrame({"tokens": ["John  met", "john met", "Mary"], "emb_0": [1, 1, 2], "emb_1": [0.5, 0.5, 0.5]})

    assert hashed_columns(token) == [("tokens", "text")]
    assert row_hashes(frame, token).nunique() == 2
    assert [name for name, _ in hashed_columns(embedded, list(frame.columns))] == ["emb_0", "emb_1"]
    assert row_hashes(frame, embedded).nunique() == 2
    assert feature_key(embedded, list(frame.columns)) != feature_key(token)


def test_a_missing_feature_column_is_named() -> None:
    with pytest.raises(KeyError, match=r"\['t'\]"):
        row_hashes(pd.DataFrame({"n": [1], "c": ["a"]}), _definition())
