"""quality.json's data-issue thresholds: optional, off by default, range-checked with the file named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelaudit.errors import DefinitionError
from labelaudit.inputs.definition import QualityThresholds, load_dataset

DATA_ISSUE_THRESHOLDS = (
    "max_duplicate_rate",
    "max_conflicting_duplicate_rate",
    "max_leaked_rate",
    "max_label_drift_psi",
    "min_class_share",
)


def test_an_existing_quality_json_checks_none_of_them() -> None:
    quality = QualityThresholds.model_validate({"max_label_error_rate": 0.1})

    assert all(getattr(quality, name) is None for name in DATA_ISSUE_THRESHOLDS)
    assert quality.label_drift_alpha == 0.01


def _write(folder: Path, quality: dict) -> Path:
    dataset = folder / "d"
    dataset.mkdir(parents=True)
    (dataset / "dataset.json").write_text(json.dumps({"name": "d", "label_column": "y"}))
    (dataset / "suite.json").write_text(json.dumps({"expectations": []}))
    (dataset / "quality.json").write_text(json.dumps(quality))
    return folder


def test_set_thresholds_load_and_bad_ones_name_the_file(tmp_path: Path) -> None:
    good = {
        "max_duplicate_rate": 0.05,
        "max_conflicting_duplicate_rate": 0.0,
        "max_leaked_rate": 0.01,
        "max_label_drift_psi": 0.25,
        "label_drift_alpha": 0.001,
        "min_class_share": 0.1,
    }
    bundle = load_dataset(_write(tmp_path / "good", good), "d")
    assert bundle.quality.model_dump(include=set(good)) == good

    with pytest.raises(DefinitionError, match=r"quality\.json: max_leaked_rate: Input should be less than or equal"):
        load_dataset(_write(tmp_path / "bad", {"max_leaked_rate": 1.5}), "d")
