"""Bad multi-label and token label formats stop the run at the fit stage with exit 2, naming the 1-based rows."""

from __future__ import annotations

import json

import pandas as pd

from tests.flow.helpers import query
from tests.sequences.conftest import audit


def _failed_fit(project, run) -> str:
    assert run.exit_code == 2, (run.exit_code, run.stderr)
    stage = query(
        project.database, "SELECT stage, status, message FROM run_stages WHERE run_id = ? AND status = 'failed'",
        [run.run_id],
    )  # fmt: skip
    assert stage["stage"].tolist() == ["fit"]
    assert query(project.database, "SELECT count(*) AS n FROM scores WHERE run_id = ?", [run.run_id])["n"][0] == 0
    return stage["message"][0]


def test_unknown_tags_name_their_rows(seq_project, tmp_path):
    frame = pd.read_csv(seq_project.data / "tags" / "tags.csv", dtype=str, keep_default_na=False)
    frame.loc[2, "tags"] = "arts|sprots"
    frame.loc[6, "tags"] = "Politics"
    source = tmp_path / "tags_bad.csv"
    frame.to_csv(source, index=False)
    run = audit(seq_project, source, "tags")
    message = _failed_fit(seq_project, run)
    assert "rows 3, 7" in run.stderr and "'Politics'" in run.stderr and "'sprots'" in run.stderr
    assert "column 'tags'" in message and "rows 3, 7" in message


def test_token_and_tag_counts_must_match(seq_project, tmp_path):
    frame = pd.read_csv(seq_project.data / "ner" / "ner.csv", dtype=str)
    frame.loc[1, "labels"] = " ".join(frame.loc[1, "labels"].split()[:-1])
    frame.loc[4, "tokens"] = json.dumps([*json.loads(frame.loc[4, "tokens"]), "extra"])
    source = tmp_path / "ner_bad.csv"
    frame.to_csv(source, index=False)
    run = audit(seq_project, source, "ner")
    _failed_fit(seq_project, run)
    assert "rows 2, 5" in run.stderr and "different number of tokens and labels" in run.stderr


def test_malformed_token_cells_and_unknown_tags(seq_project, tmp_path):
    frame = pd.read_csv(seq_project.data / "ner" / "ner.csv", dtype=str)
    frame.loc[3, "tokens"] = '["John", "Smith"'  # a JSON list that never closes
    source = tmp_path / "ner_malformed.csv"
    frame.to_csv(source, index=False)
    run = audit(seq_project, source, "ner")
    _failed_fit(seq_project, run)
    assert "row 4" in run.stderr and "column 'tokens'" in run.stderr

    frame = pd.read_csv(seq_project.data / "ner" / "ner.csv", dtype=str)
    frame.loc[9, "labels"] = frame.loc[9, "labels"].replace("O", "B-MISC", 1)
    frame.to_csv(source, index=False)
    run = audit(seq_project, source, "ner")
    _failed_fit(seq_project, run)
    assert "row 10" in run.stderr and "B-MISC" in run.stderr


def test_annotations_are_refused_for_token_datasets(seq_project, tmp_path):
    annotations = tmp_path / "annotations.csv"
    annotations.write_text("item_id,annotator_id,label\nS0000,a1,O\n")
    run = audit(seq_project, seq_project.data / "ner" / "ner.csv", "ner", "--annotations", str(annotations))
    assert run.exit_code == 2 and "multiclass datasets only" in run.stderr
