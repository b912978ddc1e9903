"""The report's "Model and second opinion" section (issue 15): view model, loaded in the report's connection.

What it shows, each part only when the run stored it (:mod:`labelaudit.store.queries`' ``model_candidates``,
``opinion_split`` and ``neighbour_opinions`` reads):

- with ``"classifier": "auto"``, every candidate the fit stage compared: its out-of-fold log-loss, accuracy and
  seconds, whether the batch was screened on a subsample first (and the candidate's log-loss there, or that it
  was screened out), the one used marked, and the selection criterion in words;
- the flag rule in force and how confident learning and the k nearest neighbours split the rows (flagged by
  both, by confident learning only, by the neighbours only), with the most telling rows of each disagreement
  and both scores, so a reader sees where one model's opinion stands alone.

A run without any of it (older runs, precomputed probabilities with a fixed model, the sequence kinds, out of
core) gets ``None``: the report shows no section, not an empty box. Values from the data are kept as they
are; the template escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from labelaudit.models.candidates import MEAN, MEAN_WITHIN
from labelaudit.store import queries

#: Rows listed for each disagreement (confident learning only, neighbours only); the rest are counted.
MAX_OPINION_ROWS = 10

#: Candidate families as the page names them.
MODEL_NAMES = {
    "logistic_regression": "Logistic regression",
    "hist_gradient_boosting": "Histogram gradient boosting",
    "random_forest": "Random forest",
    MEAN: "Mean of the candidates",
}

#: Each selection criterion of ``labelaudit.models.selection.CRITERIA`` in words.
CRITERIA = {
    "accuracy": "the best out-of-fold accuracy against the given labels, log-loss breaking ties",
    "log_loss": "the lowest out-of-fold log-loss",
    "brier": "the lowest out-of-fold Brier score",
    "trimmed_log_loss": "the lowest out-of-fold log-loss on the rows no candidate's confident learning flags",
}

#: Each ``flag_rule`` of the definition in words (``labelaudit.models.neighbour_score.combine_flags``).
FLAG_RULES = {
    "confident_learning": "confident learning decides alone; the neighbours' score is shown beside it",
    "both": "a row is flagged only where confident learning and the neighbours agree (fewer, surer flags)",
    "either": "a row is flagged where confident learning or the neighbours find it suspect (more recall)",
    "rank": "as many rows as confident learning flags, taken from the lowest mean of the two scores",
}


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of ``auto``: out-of-fold figures (None when screened out before the full folds)."""

    name: str
    log_loss: float | None
    accuracy: float | None
    brier: float | None
    seconds: float | None
    screen_log_loss: float | None
    chosen: bool
    in_mean: bool | None = None

    @property
    def is_mean(self) -> bool:
        return self.name == MEAN

    @property
    def title(self) -> str:
        return MODEL_NAMES.get(self.name, self.name.replace("_", " ").capitalize())

    @property
    def screened_out(self) -> bool:
        return self.log_loss is None


@dataclass(frozen=True)
class OpinionRow:
    """A row where the two opinions disagree, with both scores (lower is more suspect for both)."""

    row_id: str
    given_label: str
    suggested_label: str | None
    label_quality: float | None
    knn_agreement: float | None
    is_issue: bool


@dataclass(frozen=True)
class ModelsSection:
    model: str | None  # the classifier whose probabilities were scored (run_metrics.model)
    candidates: list[CandidateRow]
    criterion: str | None
    screened_rows: int | None
    flag_rule: str | None
    neighbours: int | None
    flagged: int | None
    both: int | None
    cl_only: int | None
    neighbours_only: int | None
    cl_only_rows: list[OpinionRow]
    neighbours_only_rows: list[OpinionRow]

    @property
    def chosen(self) -> CandidateRow | None:
        return next((c for c in self.candidates if c.chosen), None)

    @property
    def has_mean(self) -> bool:
        """Whether the mean of the best candidates' probabilities was compared (two or more were close)."""
        return any(c.is_mean for c in self.candidates)

    @property
    def mean_within(self) -> float:
        return MEAN_WITHIN

    @property
    def fitted_count(self) -> int:
        return sum(not c.is_mean for c in self.candidates)

    @property
    def mean_title(self) -> str:
        """``Mean of random forest and histogram gradient boosting``: the candidates the mean averages."""
        names = [c.title.lower() for c in self.candidates if c.in_mean]
        return "Mean of " + (" and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1])

    @property
    def model_title(self) -> str | None:
        if self.chosen is not None and self.chosen.is_mean:
            return self.mean_title
        name = self.chosen.name if self.chosen else self.model
        return MODEL_NAMES.get(name, name) if name else None

    @property
    def criterion_text(self) -> str | None:
        if self.criterion is None:
            return None
        return CRITERIA.get(self.criterion, self.criterion.replace("_", " "))

    @property
    def flag_rule_text(self) -> str | None:
        return FLAG_RULES.get(self.flag_rule, self.flag_rule) if self.flag_rule else None

    @property
    def has_opinions(self) -> bool:
        return self.neighbours is not None

    @property
    def more_cl_only(self) -> int:
        return max((self.cl_only or 0) - len(self.cl_only_rows), 0)

    @property
    def more_neighbours_only(self) -> int:
        return max((self.neighbours_only or 0) - len(self.neighbours_only_rows), 0)


def load_models_section(con: duckdb.DuckDBPyConnection, run_id: str) -> ModelsSection | None:
    """The section's view model for ``run_id``; None when the run stored neither candidates nor the neighbours'
    opinion (the report then shows no section)."""
    found = queries.model_candidates(con, run_id)
    split = queries.opinion_split(con, run_id)
    if not found and split is None:
        return None
    candidates = [
        CandidateRow(
            str(c["name"]),
            c["log_loss"],
            c["accuracy"],
            c["brier"],
            c["seconds"],
            c["screen_log_loss"],
            bool(c["chosen"]),
            c["in_mean"],
        )
        for c in found
    ]
    screened = next((int(c["screened_rows"]) for c in found if c["screened_rows"] is not None), None)
    opinions = queries.neighbour_opinions(con, run_id, limit=MAX_OPINION_ROWS) if split else {}
    split = split or {}
    return ModelsSection(
        model=split.get("model"),
        candidates=candidates,
        criterion=str(found[0]["criterion"]) if found else None,
        screened_rows=screened,
        flag_rule=split.get("flag_rule"),
        neighbours=_int(split.get("neighbours")),
        flagged=_int(split.get("flagged")),
        both=_int(split.get("flagged_by_both")),
        cl_only=_int(split.get("flagged_by_cl_only")),
        neighbours_only=_int(split.get("flagged_by_neighbours_only")),
        cl_only_rows=[_opinion(r) for r in opinions.get("cl_only", [])],
        neighbours_only_rows=[_opinion(r) for r in opinions.get("neighbours_only", [])],
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opinion(r: dict[str, Any]) -> OpinionRow:
    return OpinionRow(
        str(r["row_id"]),
        str(r["given_label"]),
        r["suggested_label"],
        r["label_quality"],
        r["knn_agreement"],
        bool(r["is_issue"]),
    )
