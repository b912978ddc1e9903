"""The files a user has beside the repository's samples when they follow "Audit your own data".

The README's own-data examples name files of a made-up ``products`` dataset (``batch.csv`` with columns
``category`` and ``sku``, its Parquet copy, a spreadsheet's ``;``/cp1252 export, a DuckDB warehouse, their own
model's probabilities). They are made here from the bundled penguin batch (label column renamed ``category``,
id column ``sku``), so each README command runs exactly as written on data whose errors are known.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
CATEGORICAL = ["island", "sex"]
#: The warehouse's batch the README's query selects (``WHERE batch = 42``); another batch sits beside it.
WAREHOUSE_BATCH = 42


def products(data: Path) -> pd.DataFrame:
    """The penguin sample batch as a ``products`` batch: label ``category``, id ``sku``."""
    frame = pd.read_csv(data / "penguins" / "penguins_batch.csv", dtype={"penguin_id": str, "species": str})
    return frame.rename(columns={"species": "category", "penguin_id": "sku"})


def _out_of_fold_probabilities(frame: pd.DataFrame) -> pd.DataFrame:
    """A model's probabilities for rows it did not train on (5-fold cross-validation), one column per class."""
    features = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    )
    model = make_pipeline(features, LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    probs = cross_val_predict(model, frame, frame["category"], cv=folds, method="predict_proba")
    return pd.DataFrame(probs, columns=sorted(frame["category"].unique()), index=frame.index)


def _warehouse(path: Path, batch: pd.DataFrame, other: pd.DataFrame) -> None:
    """``warehouse.duckdb`` with a ``labels`` table: the sample batch as batch 42, another batch beside it."""
    labels = pd.concat(
        [batch.assign(batch=WAREHOUSE_BATCH), other.assign(batch=WAREHOUSE_BATCH - 1)], ignore_index=True
    )
    with duckdb.connect(str(path)) as con:
        con.register("frame", labels)
        con.execute("CREATE TABLE labels AS SELECT * FROM frame")


def write_user_files(folder: Path) -> pd.DataFrame:
    """Write the own-data files the README names into ``folder`` (which holds ``data/``); returns the batch."""
    batch = products(folder / "data")
    batch.to_csv(folder / "batch.csv", index=False)
    batch.to_parquet(folder / "batch.parquet", index=False)
    batch.to_csv(folder / "export.csv", sep=";", index=False, encoding="cp1252")
    noisy = pd.read_csv(folder / "data" / "penguins" / "penguins_noisy.csv", dtype={"penguin_id": str})
    _warehouse(folder / "warehouse.duckdb", batch, noisy.rename(columns={"species": "category", "penguin_id": "sku"}))
    probs = _out_of_fold_probabilities(batch)
    probs.insert(0, "sku", batch["sku"])
    probs.to_parquet(folder / "my_model_probs.parquet", index=False)
    probs.insert(1, "category", batch["category"])
    probs.to_parquet(folder / "model_probs.parquet", index=False)
    (folder / "probs_dir").mkdir(exist_ok=True)  # the same rows as a Parquet dataset of two files (--engine dask)
    half = len(probs) // 2
    probs.iloc[:half].to_parquet(folder / "probs_dir" / "part-0.parquet", index=False)
    probs.iloc[half:].to_parquet(folder / "probs_dir" / "part-1.parquet", index=False)
    return batch
