"""``labelaudit init`` writes ``"classifier": "auto"``; a definition written before issue 15 still reads the same."""

from __future__ import annotations

import json

import pandas as pd

from labelaudit.inputs.definition import DatasetDefinition, load_dataset
from labelaudit.inputs.infer_definition import write_definition


def test_init_writes_auto_and_the_definition_loads(tmp_path) -> None:
    source = tmp_path / "batch.csv"
    rows = [{"id": f"r{i}", "label": "ab"[i % 2], "x": i * 0.5, "colour": "rgb"[i % 3]} for i in range(30)]
    pd.DataFrame(rows).to_csv(source, index=False)
    folder = write_definition(str(source), "demo", tmp_path / "expectations")
    written = json.loads((folder / "dataset.json").read_text())
    assert written["model"] == {"classifier": "auto", "params": {}}
    assert "flag_rule" not in written  # the default rule is left out, like every new option at its default
    assert load_dataset(tmp_path / "expectations", "demo").definition.model.classifier == "auto"


def test_a_definition_without_the_new_options_dumps_as_before() -> None:
    before = {
        "name": "old",
        "label_column": "y",
        "features": [{"name": "a", "role": "numeric", "required": False}],
        "model": {"classifier": "hist_gradient_boosting", "params": {"max_iter": 50}},
    }
    dumped = DatasetDefinition.model_validate(before).model_dump(mode="json")
    assert dumped["model"] == before["model"] and dumped["features"] == before["features"]
    assert not {"flag_rule", "neighbours"} & set(dumped)
