"""The bundled multi-label (tags) and token (NER) samples audited through the CLI: injected errors found,
details stored, the gate judged per label type, and bring-your-own probabilities for both.

Measured on the committed samples (5 folds, seed 0), end to end through the CLI and read back from DuckDB:
tags: (row, tag) cells precision 0.918 recall 0.927, rows precision 0.927 recall 0.927 (96 flagged of 96
injected rows); NER: tokens precision 1.000 recall 0.926, sentences precision 1.000 recall 0.964.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd

from tests.flow.helpers import query, run_cli
from tests.sequences.conftest import audit

TAGS = ["arts", "business", "health", "politics", "science", "sports"]
NER_CLASSES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def _pr(found: set, truth: set) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / len(truth)


def test_tags_injected_errors_are_found(seq_project, tags_run):
    assert tags_run.exit_code == 0, tags_run.stderr
    db, run_id = seq_project.database, tags_run.run_id
    injected = pd.read_csv(seq_project.data / "tags" / "tags.injected.csv")
    details = query(db, "SELECT row_id, item, kind FROM label_issue_details WHERE run_id = ?", [run_id])
    cell_p, cell_r = _pr(
        set(zip(details["row_id"], details["item"], strict=True)),
        set(zip(injected["doc_id"], injected["tag"], strict=True)),
    )
    flagged = set(query(db, "SELECT row_id FROM flagged_rows WHERE run_id = ?", [run_id])["row_id"])
    row_p, row_r = _pr(flagged, set(injected["doc_id"]))
    print(f"tags end to end: cells P={cell_p:.3f} R={cell_r:.3f}; rows P={row_p:.3f} R={row_r:.3f}")
    assert cell_p >= 0.85 and cell_r >= 0.88
    assert row_p >= 0.85 and row_r >= 0.88
    # the kind (missing / extra) of every injected cell that was found is right
    kinds = dict(zip(zip(injected["doc_id"], injected["tag"], strict=True), injected["kind"], strict=True))
    found = [
        (k, kind)
        for k, kind in zip(zip(details["row_id"], details["item"], strict=True), details["kind"], strict=True)
        if k in kinds
    ]
    assert found and all(kinds[k] == kind for k, kind in found)


def test_ner_injected_errors_are_found(seq_project, ner_run):
    assert ner_run.exit_code == 0, ner_run.stderr
    db, run_id = seq_project.database, ner_run.run_id
    injected = pd.read_csv(seq_project.data / "ner" / "ner.injected.csv")
    details = query(db, "SELECT * FROM label_issue_details WHERE run_id = ?", [run_id])
    truth = set(zip(injected["sentence_id"], injected["token"], strict=True))
    token_p, token_r = _pr(set(zip(details["row_id"], details["position"], strict=True)), truth)
    flagged = set(query(db, "SELECT row_id FROM flagged_rows WHERE run_id = ?", [run_id])["row_id"])
    sent_p, sent_r = _pr(flagged, set(injected["sentence_id"]))
    print(f"NER end to end: tokens P={token_p:.3f} R={token_r:.3f}; sentences P={sent_p:.3f} R={sent_r:.3f}")
    assert token_p >= 0.95 and token_r >= 0.88
    assert sent_p >= 0.95 and sent_r >= 0.9
    # the detail rows carry the token's text and the given tag of the file, and suggest the true tag
    hits = details.merge(
        injected, left_on=["row_id", "position"], right_on=["sentence_id", "token"], suffixes=("", "_true")
    )
    assert len(hits) == round(token_p * len(details))
    assert (hits["item"] == hits["text"]).all() and (hits["given"] == hits["given_true"]).all()
    assert (hits["suggested"] == hits["true"]).mean() >= 0.9
    assert set(details["kind"]) == {"mislabeled"}


def test_tables_keep_their_meaning_per_row_and_sentence(seq_project, tags_run, ner_run):
    db = seq_project.database
    for run, rows, unit in ((tags_run, 1200, "multilabel"), (ner_run, 800, "token")):
        m = query(db, "SELECT * FROM run_metrics WHERE run_id = ?", [run.run_id]).iloc[0]
        assert m["rows"] == rows
        assert m["estimated_error_rate"] == m["flagged"] / rows == run.summary["estimated_error_rate"]
        scores = query(db, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [run.run_id])
        assert len(scores) == rows and scores["is_issue"].sum() == m["flagged"]
        flagged = scores[scores["is_issue"]]
        assert sorted(flagged["issue_rank"]) == list(range(1, len(flagged) + 1))
        assert (flagged["given_label"] != flagged["suggested_label"]).all()
        clean = scores[~scores["is_issue"]]
        assert (clean["given_label"] == clean["suggested_label"]).all()
        params = json.loads(query(db, "SELECT params FROM runs WHERE run_id = ?", [run.run_id])["params"][0])
        assert params["label_type"] == unit
    # multi-label: one oof_probs row per row, probabilities per tag (independent: rows need not sum to 1)
    probs = query(db, "SELECT * FROM oof_probs WHERE run_id = ?", [tags_run.run_id])
    assert len(probs) == 1200 and probs["token_idx"].isna().all() and len(probs["probs"][0]) == len(TAGS)
    classes = query(db, "SELECT * FROM class_metrics WHERE run_id = ?", [tags_run.run_id])
    assert sorted(classes["label"]) == TAGS
    details = query(db, "SELECT * FROM label_issue_details WHERE run_id = ?", [tags_run.run_id])
    assert set(details["kind"]) == {"missing", "extra"}
    assert (details.loc[details["kind"] == "missing", ["given", "suggested"]] == ["absent", "present"]).all().all()
    assert (classes.set_index("label")["flagged"] == details.groupby("item").size().reindex(TAGS, fill_value=0)).all()
    # token: one oof_probs row per token, each probability row a distribution over the 7 tags
    probs = query(db, "SELECT * FROM oof_probs WHERE run_id = ? ORDER BY row_idx, token_idx", [ner_run.run_id])
    frame = pd.read_csv(seq_project.data / "ner" / "ner.csv")
    lengths = frame["tokens"].map(lambda cell: len(json.loads(cell)))
    assert len(probs) == lengths.sum() and probs.groupby("row_idx").size().tolist() == lengths.tolist()
    np.testing.assert_allclose(np.stack(probs["probs"]).sum(axis=1), 1.0, atol=1e-5)
    types = query(db, "SELECT label FROM class_metrics WHERE run_id = ?", [ner_run.run_id])["label"]
    assert sorted(types) == ["LOC", "O", "ORG", "PER"]
    # the flagged_rows view and a details query users would write
    joined = query(
        db,
        """SELECT f.row_id, f.issue_rank, d.position, d.item, d.given, d.suggested
           FROM flagged_rows f JOIN label_issue_details d USING (run_id, row_id)
           WHERE f.run_id = ? ORDER BY f.issue_rank, d.position""",
        [ner_run.run_id],
    )
    assert len(joined) == len(query(db, "SELECT * FROM label_issue_details WHERE run_id = ?", [ner_run.run_id]))


def _strict_definition(project, name: str, source: str, quality: dict) -> None:
    folder = project.expectations / name
    shutil.copytree(project.expectations / source, folder)
    definition = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**definition, "name": name}))
    (folder / "quality.json").write_text(json.dumps(quality))


def test_tags_bring_your_own_probabilities_and_a_gate_that_rejects(seq_project, tags_run, tmp_path):
    """Probabilities from a file (id + one column per tag) skip fitting; a tighter gate rejects with exit 1."""
    db = seq_project.database
    stored = query(
        db,
        """SELECT s.row_id, o.probs FROM oof_probs o JOIN scores s USING (run_id, row_idx)
           WHERE o.run_id = ? ORDER BY o.row_idx DESC""",  # another order than the batch: matched by id
        [tags_run.run_id],
    )
    byo = pd.DataFrame(np.stack(stored["probs"]), columns=TAGS)
    byo.insert(0, "doc_id", stored["row_id"])
    path = tmp_path / "tags_probs.csv"
    byo.to_csv(path, index=False)
    quality = {"max_label_error_rate": 0.05, "max_class_label_error_rate": {"arts": 0.01, "health": 0.01}}
    _strict_definition(seq_project, "tags_strict", "tags", quality)
    run = audit(seq_project, seq_project.data / "tags" / "tags.csv", "tags_strict", "--probabilities", str(path))
    assert run.exit_code == 1, run.stderr
    assert run.summary["verdict"] == "rejected"
    gate = query(db, "SELECT * FROM gate_results WHERE run_id = ? ORDER BY code, scope", [run.run_id])
    assert set(gate.loc[~gate["passed"], "scope"]) == {"overall", "arts"}
    assert gate.set_index("scope").loc["health", "passed"]
    stage = query(db, "SELECT message FROM run_stages WHERE run_id = ? AND stage = 'fit'", [run.run_id])
    assert stage["message"][0].startswith("precomputed from")
    # the same probabilities (stored as float32) flag the same cells as the fitted run
    cells = "SELECT row_id, item FROM label_issue_details WHERE run_id = ?"
    before = set(map(tuple, query(db, cells, [tags_run.run_id]).to_numpy()))
    after = set(map(tuple, query(db, cells, [run.run_id]).to_numpy()))
    assert len(before ^ after) <= 2


def test_ner_gate_rejects_per_entity_type(seq_project, ner_run, tmp_path):
    """max_class_label_error_rate applies per entity type (B- and I- tags together)."""
    db = seq_project.database
    types = query(db, "SELECT label, estimated_error_rate FROM class_metrics WHERE run_id = ?", [ner_run.run_id])
    rates = dict(zip(types["label"], types["estimated_error_rate"], strict=True))
    assert 0 < rates["PER"] < rates["ORG"]
    between = (rates["PER"] + rates["ORG"]) / 2
    quality = {"max_label_error_rate": 0.5, "max_class_label_error_rate": {"PER": between, "ORG": between}}
    _strict_definition(seq_project, "ner_strict", "ner", quality)
    probs = _token_probability_file(db, ner_run.run_id, tmp_path / "ner_probs.parquet")
    run = audit(seq_project, seq_project.data / "ner" / "ner.csv", "ner_strict", "--probabilities", str(probs))
    assert run.exit_code == 1, run.stderr
    gate = query(db, "SELECT scope, passed FROM gate_results WHERE run_id = ?", [run.run_id])
    assert dict(zip(gate["scope"], gate["passed"], strict=True)) == {"overall": True, "PER": True, "ORG": False}


def _token_probability_file(db, run_id: str, path):
    """The documented layout: sentence id, token index, one column per tag."""
    stored = query(
        db,
        """SELECT s.row_id AS sentence_id, o.token_idx, o.probs FROM oof_probs o JOIN scores s USING (run_id, row_idx)
           WHERE o.run_id = ? ORDER BY o.row_idx DESC, o.token_idx""",
        [run_id],
    )
    byo = pd.DataFrame(np.stack(stored["probs"]).astype(np.float64), columns=NER_CLASSES)
    byo /= byo.sum(axis=1).to_numpy()[:, None]
    byo.insert(0, "token_idx", stored["token_idx"].astype(int))
    byo.insert(0, "sentence_id", stored["sentence_id"])
    byo.to_parquet(path, index=False) if str(path).endswith(".parquet") else byo.to_csv(path, index=False)
    return path


def test_review_sheet_and_export_refuse_multilabel_runs_clearly(seq_project, tags_run, tmp_path):
    sheet = run_cli(seq_project, "review", "export", tags_run.run_id, "--db", str(seq_project.database),
                    "--output", str(tmp_path / "review.csv"))  # fmt: skip
    assert sheet.exit_code == 2 and "multiclass runs only" in " ".join(sheet.stderr.split())
    assert not (tmp_path / "review.csv").exists()
