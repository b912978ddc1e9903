"""An audit with long-format annotations, end to end: the simulated labeler pool is ranked and its confusion found.

The pool (``data/make_annotator_sample.py``): five annotators erring at random at different rates and two
"confusers" who write Chinstrap for Adelie 60 % of the time. One of them gets a hostile id, which must reach
the database as it is and the report escaped.
"""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import spearmanr

from tests.conftest import Project
from tests.flow.helpers import query
from tests.review.helpers import CROWD, audit, cli, crowd_project, stage_message

pytestmark = pytest.mark.slow

HOSTILE = '<script>alert("ann")</script>&amp;'
#: Measured on the bundled pool: 0.82 (CROWDLAB quality vs true accuracy, 7 annotators, the four worst within
#: 8 points of each other). The floor leaves room for one adjacent swap more.
SPEARMAN_FLOOR = 0.75


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict, pd.DataFrame]:
    project = crowd_project(tmp_path_factory.mktemp("crowd"))
    folder = project.data / "penguins_crowd"
    annotations = pd.read_csv(folder / "penguins_annotations.csv", dtype=str)
    annotations["annotator_id"] = annotations["annotator_id"].replace({"ann-06": HOSTILE})
    annotations.to_csv(folder / "penguins_annotations.csv", index=False)
    truth = pd.read_csv(folder / "penguins_annotators_truth.csv")
    truth["annotator_id"] = truth["annotator_id"].replace({"ann-06": HOSTILE})
    code, summary, stderr = audit(
        project,
        project.data / "penguins" / "penguins_clean.csv",
        CROWD,
        "--annotations",
        str(folder / "penguins_annotations.csv"),
    )
    assert summary is not None and code in (0, 1), stderr
    return project, summary, truth.set_index("annotator_id")


def test_labels_and_labelers_stages_are_stored(crowd: tuple[Project, dict, pd.DataFrame]) -> None:
    project, summary, _ = crowd
    run_id = summary["run_id"]
    stages = {s["stage"]: s["status"] for s in summary["stages"]}
    assert stages["labels"] == stages["labelers"] == "completed"
    assert "majority vote of 962 annotations by 7 annotators on 344 items" in stage_message(summary, "labels")
    stored = query(project.database, "SELECT count(*) AS n FROM annotations WHERE run_id = ?", [run_id])["n"][0]
    assert stored == 962
    items = query(project.database, "SELECT * FROM item_consensus WHERE run_id = ?", [run_id])
    assert len(items) == 344 and items["item_id"].is_unique
    assert (items["num_annotations"] == 1).sum() == 35  # one penguin in ten has a single annotator
    assert items["consensus_quality"].between(0, 1).all()
    # the audit fitted the majority vote: scores.given_label is it wherever a strict majority exists (ties are
    # broken without the model before fitting, with it in item_consensus)
    scored = query(project.database, "SELECT row_id, given_label FROM scores WHERE run_id = ?", [run_id])
    fitted = scored.set_index("row_id")["given_label"].reindex(items["item_id"]).to_numpy()
    strict = (items["majority_agreement"] > 0.5).to_numpy()
    assert (fitted[strict] == items["majority_vote"].to_numpy()[strict]).all()
    assert strict.mean() > 0.9


def test_simulated_pool_is_ranked_by_true_accuracy(crowd: tuple[Project, dict, pd.DataFrame]) -> None:
    project, summary, truth = crowd
    profiles = query(
        project.database, "SELECT * FROM labeler_profiles WHERE run_id = ? ORDER BY rank", [summary["run_id"]]
    ).set_index("annotator_id")
    assert set(profiles.index) == set(truth.index)
    assert (profiles["volume"] == truth["volume"].reindex(profiles.index)).all()
    rho = spearmanr(profiles["quality"], truth["true_accuracy"].reindex(profiles.index)).statistic
    assert rho >= SPEARMAN_FLOOR, rho
    assert profiles.index[0] == "ann-01"  # the most accurate labeler is ranked first
    # estimated error rates follow the truth too
    assert spearmanr(-profiles["estimated_error_rate"], truth["true_accuracy"].reindex(profiles.index)).statistic > 0.8


def test_confused_class_pair_is_identified(crowd: tuple[Project, dict, pd.DataFrame]) -> None:
    project, summary, truth = crowd
    confusions = query(project.database, "SELECT * FROM labeler_confusions WHERE run_id = ?", [summary["run_id"]])
    top = confusions[confusions["rank"] == 1].set_index("annotator_id")
    confusers = truth.index[truth["confuses_true"].notna()]
    for who in confusers:
        row = top.loc[who]
        assert (row["given_label"], row["consensus_label"]) == ("Chinstrap", "Adelie"), who
        assert row["rate"] > 0.4
    careful = top.drop(index=confusers)
    pair = (careful["given_label"] == "Chinstrap") & (careful["consensus_label"] == "Adelie")
    assert (careful.loc[pair, "rate"] < 0.3).all()
    routing = query(
        project.database, "SELECT * FROM labeler_routing WHERE run_id = ? AND rank <= 2", [summary["run_id"]]
    )
    for label in ("Adelie", "Chinstrap"):
        assert not set(routing.loc[routing["label"] == label, "annotator_id"]) & set(confusers), label


def test_report_shows_the_labelers_section_escaped(crowd: tuple[Project, dict, pd.DataFrame]) -> None:
    project, summary, _ = crowd
    html = (project.reports / CROWD / summary["run_id"] / "index.html").read_text(encoding="utf-8")
    assert 'id="labelers"' in html and "Top confusions" in html and "Routing" in html
    assert "<svg" in html[html.index('id="labelers"') :]
    assert HOSTILE not in html and "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;ann&#34;)&lt;/script&gt;&amp;amp;" in html


def test_consensus_export_uses_the_crowdlab_labels(crowd: tuple[Project, dict, pd.DataFrame]) -> None:
    project, summary, _ = crowd
    run_id = summary["run_id"]
    output = project.root / "consensus.parquet"
    result = cli(project, "export", run_id, "--strategy", "consensus", "--output", str(output))
    assert result.exit_code == 0, result.stderr
    cleaned = pd.read_parquet(output)
    consensus = query(
        project.database, "SELECT item_id, consensus_label FROM item_consensus WHERE run_id = ?", [run_id]
    )
    assert len(cleaned) == 344
    expected = consensus.set_index("item_id")["consensus_label"].reindex(cleaned["penguin_id"]).to_numpy()
    assert (cleaned["species"].to_numpy() == expected).all()
    recorded = query(project.database, "SELECT * FROM exports WHERE run_id = ?", [run_id])
    assert recorded["strategy"].tolist() == ["consensus"] and recorded["rows_out"][0] == 344
