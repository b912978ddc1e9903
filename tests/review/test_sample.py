"""The simulated labeler pool is rebuilt identically, and its truth file matches its annotations."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO


def test_annotator_sample_is_rebuilt_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_annotator_sample", REPO / "data" / "make_annotator_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path)

    module.main()

    names = ["penguins_annotations.csv", "penguins_annotators_truth.csv"]
    match, mismatch, errors = filecmp.cmpfiles(REPO / "data" / "penguins_crowd", tmp_path, names, shallow=False)
    assert match == names, (mismatch, errors)


def test_truth_matches_the_annotations() -> None:
    folder = REPO / "data" / "penguins_crowd"
    annotations = pd.read_csv(folder / "penguins_annotations.csv", dtype=str)
    truth = pd.read_csv(folder / "penguins_annotators_truth.csv").set_index("annotator_id")
    species = pd.read_csv(REPO / "data" / "penguins" / "penguins_clean.csv", dtype=str).set_index("penguin_id")
    right = annotations["label"] == species["species"].reindex(annotations["item_id"]).to_numpy()
    measured = right.groupby(annotations["annotator_id"]).mean()
    assert (measured - truth["true_accuracy"]).abs().max() < 1e-4
    assert not annotations.duplicated(["item_id", "annotator_id"]).any()
    assert set(annotations["item_id"]) == set(species.index)
    assert set(truth.index[truth["confuses_true"].notna()]) == {"ann-06", "ann-07"}
