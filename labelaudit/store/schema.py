"""The DuckDB schema, as an ordered list of migrations.

Later features add tables by appending a migration; a database written by an older labelaudit is upgraded in
place when it is opened. ``STAGE_TABLES`` says which tables each stage owns: a stage's write deletes that run's
rows from exactly these tables and inserts the new ones in one transaction, which is what makes a re-run
idempotent and a killed stage invisible.
"""

# Over 400 lines on purpose: the migrations are an append-only history (a database at any version upgrades by
# running the ones after it), so they stay in order in one list rather than spread over modules.

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the audit flow (ingest, validate, fit, score, gate, report)
    """
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        dataset VARCHAR NOT NULL,
        source VARCHAR,
        status VARCHAR NOT NULL,          -- running | completed | rejected | failed
        verdict VARCHAR,                  -- accepted | rejected | NULL before the gate
        message VARCHAR,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        params JSON,
        code_version VARCHAR,
        flow_run_id VARCHAR,
        host VARCHAR,
        pid INTEGER,
        report_path VARCHAR
    );
    CREATE TABLE run_stages (
        run_id VARCHAR NOT NULL,
        stage VARCHAR NOT NULL,
        status VARCHAR NOT NULL,          -- completed | failed
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        seconds DOUBLE,
        rows BIGINT,
        message VARCHAR,
        PRIMARY KEY (run_id, stage)
    );
    CREATE TABLE batches (
        run_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        bytes BIGINT,
        rows BIGINT NOT NULL,
        format VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE ingested_columns (
        run_id VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        column_name VARCHAR NOT NULL,
        dtype VARCHAR NOT NULL,
        role VARCHAR NOT NULL              -- id | label | annotator | numeric | categorical | text | other
    );
    CREATE TABLE ingested_rows (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,          -- 0-based position in the batch
        row_id VARCHAR NOT NULL,
        given_label VARCHAR,
        record JSON                        -- every column of the row, as ingested
    );
    CREATE TABLE validation_results (
        run_id VARCHAR NOT NULL,
        code VARCHAR,
        expectation_type VARCHAR NOT NULL,
        column_name VARCHAR,
        success BOOLEAN NOT NULL,
        element_count BIGINT,
        unexpected_count BIGINT,
        unexpected_percent DOUBLE,
        examples JSON,
        kwargs JSON,
        message VARCHAR
    );
    CREATE TABLE classes (
        run_id VARCHAR NOT NULL,
        class_idx INTEGER NOT NULL,
        label VARCHAR NOT NULL,
        given_count BIGINT NOT NULL
    );
    CREATE TABLE fold_metrics (
        run_id VARCHAR NOT NULL,
        fold INTEGER,                     -- NULL: all out-of-fold predictions together
        rows BIGINT NOT NULL,
        accuracy DOUBLE,
        log_loss DOUBLE,
        seconds DOUBLE
    );
    CREATE TABLE oof_probs (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,
        fold INTEGER,                     -- NULL when the probabilities were supplied precomputed
        probs FLOAT[] NOT NULL            -- one value per class, in class_idx order
    );
    CREATE TABLE scores (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,
        row_id VARCHAR NOT NULL,
        given_label VARCHAR NOT NULL,
        suggested_label VARCHAR NOT NULL,
        suggested_prob DOUBLE NOT NULL,
        label_quality DOUBLE NOT NULL,
        is_issue BOOLEAN NOT NULL,
        issue_rank INTEGER                -- 1 = most suspicious flagged row; NULL when not flagged
    );
    CREATE TABLE noise_matrix (
        run_id VARCHAR NOT NULL,
        given_label VARCHAR NOT NULL,
        true_label VARCHAR NOT NULL,
        confident_count DOUBLE NOT NULL,  -- calibrated confident joint
        joint DOUBLE NOT NULL,            -- estimated P(given, true)
        noise DOUBLE NOT NULL             -- estimated P(given | true)
    );
    CREATE TABLE class_metrics (
        run_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        given_count BIGINT NOT NULL,
        flagged BIGINT NOT NULL,
        estimated_error_rate DOUBLE NOT NULL, -- P(true != label | given = label)
        flagged_rate DOUBLE NOT NULL,
        oof_accuracy DOUBLE
    );
    CREATE TABLE run_metrics (
        run_id VARCHAR PRIMARY KEY,
        rows BIGINT NOT NULL,
        classes INTEGER NOT NULL,
        flagged BIGINT NOT NULL,
        estimated_issues DOUBLE NOT NULL,
        estimated_error_rate DOUBLE NOT NULL,
        flagged_rate DOUBLE NOT NULL,
        oof_accuracy DOUBLE,
        oof_log_loss DOUBLE,
        method VARCHAR NOT NULL,
        tie_rule VARCHAR,
        scoring_path VARCHAR              -- in-memory | out-of-core
    );
    CREATE TABLE gate_results (
        run_id VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        threshold VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,           -- overall, or a class label
        comparison VARCHAR NOT NULL,      -- max | min
        limit_value DOUBLE NOT NULL,
        measured DOUBLE NOT NULL,
        passed BOOLEAN NOT NULL,
        margin DOUBLE NOT NULL            -- positive: room left; negative: by how much it is breached
    );
    CREATE VIEW flagged_rows AS
        SELECT run_id, row_id, given_label, suggested_label, label_quality AS score, suggested_prob, issue_rank
        FROM scores WHERE is_issue;
    """,
    # 2: labelers and the review loop (multi-annotator consensus, labeler profiles, verdicts, exports)
    """
    CREATE TABLE annotations (
        run_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,         -- the batch's row id
        annotator_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        timestamp VARCHAR                 -- as written in the file; NULL without a timestamp column
    );
    CREATE TABLE item_consensus (
        run_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        num_annotations INTEGER NOT NULL,
        majority_vote VARCHAR NOT NULL,   -- ties broken by the model (the fitted label breaks them without it)
        majority_agreement DOUBLE NOT NULL,
        consensus_label VARCHAR NOT NULL, -- CROWDLAB
        consensus_quality DOUBLE NOT NULL,
        annotator_agreement DOUBLE NOT NULL, -- share of the item's annotators agreeing with the consensus
        consensus_is_majority BOOLEAN NOT NULL
    );
    CREATE TABLE labeler_profiles (
        run_id VARCHAR NOT NULL,
        annotator_id VARCHAR NOT NULL,
        rank INTEGER NOT NULL,            -- 1 = highest CROWDLAB quality
        volume BIGINT NOT NULL,
        volume_shared BIGINT NOT NULL,    -- labels on items someone else labelled too
        agreement DOUBLE,                 -- with consensus, all their labels
        estimated_error_rate DOUBLE,      -- disagreement with consensus on shared items; NULL without any
        quality DOUBLE,                   -- CROWDLAB annotator quality
        worst_class VARCHAR
    );
    CREATE TABLE labeler_class_profiles (
        run_id VARCHAR NOT NULL,
        annotator_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,           -- consensus class
        volume BIGINT NOT NULL,           -- items of this consensus class they labelled
        given_volume BIGINT NOT NULL,     -- times they said this class
        true_positives BIGINT NOT NULL,
        agreement DOUBLE,                 -- recall against consensus
        precision DOUBLE,
        f1 DOUBLE,
        estimated_error_rate DOUBLE
    );
    CREATE TABLE labeler_confusions (
        run_id VARCHAR NOT NULL,
        annotator_id VARCHAR NOT NULL,
        given_label VARCHAR NOT NULL,     -- what they said
        consensus_label VARCHAR NOT NULL, -- what the consensus says
        count BIGINT NOT NULL,
        rate DOUBLE NOT NULL,             -- share of that consensus class they labelled as given_label
        rank INTEGER NOT NULL             -- 1 = their most frequent mix-up
    );
    CREATE TABLE labeler_routing (
        run_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        rank INTEGER,                     -- 1 = route this class here first; NULL when not eligible
        annotator_id VARCHAR NOT NULL,
        score DOUBLE,
        f1 DOUBLE,
        volume BIGINT NOT NULL,
        eligible BOOLEAN NOT NULL
    );
    -- Reviewers' verdicts: human input, kept when a run is re-run. One import is one transaction;
    -- import_id is a hash of the run and the file's bytes, so importing the same file again changes nothing.
    CREATE TABLE review_verdicts (
        dataset VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,          -- the run whose flags were reviewed
        row_id VARCHAR NOT NULL,
        verdict VARCHAR NOT NULL,         -- error | correct | unsure
        corrected_label VARCHAR,          -- the right label when verdict = error
        given_label VARCHAR,
        suggested_label VARCHAR,
        score DOUBLE,                     -- the row's label-quality score in that run (from scores)
        reviewer VARCHAR,
        import_id VARCHAR NOT NULL,
        source_file VARCHAR,
        imported_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (import_id, row_id)
    );
    -- Cleaned datasets written by `labelaudit export`; kept when a run is re-run.
    CREATE TABLE exports (
        run_id VARCHAR NOT NULL,
        strategy VARCHAR NOT NULL,        -- remove | relabel | consensus
        threshold DOUBLE,                 -- relabel only
        path VARCHAR NOT NULL,
        rows_in BIGINT NOT NULL,
        rows_out BIGINT NOT NULL,
        rows_removed BIGINT NOT NULL,
        labels_changed BIGINT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 3: multi-label and token labels (label_type in dataset.json). scores/class_metrics/run_metrics keep their
    # meaning per row (multi-label) or sentence (token); which tag or token looks wrong is a detail row here.
    """
    CREATE TABLE label_issue_details (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,          -- the row (multi-label) or sentence (token), as in scores
        row_id VARCHAR NOT NULL,
        position INTEGER NOT NULL,        -- class index of the tag (multi-label) or 0-based token index (token)
        item VARCHAR NOT NULL,            -- the tag (multi-label) or the token's text (token)
        kind VARCHAR NOT NULL,            -- missing | extra (multi-label) | mislabeled (token)
        given VARCHAR NOT NULL,           -- multi-label: present | absent; token: the given tag
        suggested VARCHAR NOT NULL,       -- multi-label: absent | present; token: the predicted tag
        score DOUBLE NOT NULL,            -- self-confidence of the given annotation (lower: more suspicious)
        suggested_prob DOUBLE NOT NULL,   -- out-of-fold probability of the suggestion
        detail_rank INTEGER NOT NULL      -- 1 = most suspicious detail of the run
    );
    -- token batches: one oof_probs row per token (row_idx = sentence, token_idx = token); NULL otherwise
    ALTER TABLE oof_probs ADD COLUMN token_idx INTEGER;
    """,
    # 4: data issues (issue 14). A hash per row of the features (labelaudit.data_issues.hashing), so a later
    # batch's leakage check reads earlier batches' hashes, never their rows; hashes compare only within one
    # scheme and feature list (feature_key).
    """
    CREATE TABLE row_hashes (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,
        row_id VARCHAR NOT NULL,
        hash UBIGINT NOT NULL,
        label VARCHAR,                    -- the row's label key (class, sorted tag set, tag sequence)
        feature_key VARCHAR NOT NULL      -- hashing scheme + hashed columns
    );
    """,
    # 5: the data-issue findings (issue 14; docs/data-issues.md). Row level: one table, read through the view
    # data_issues; batch level: label drift (one row per run, one per class) and class imbalance; and one
    # summary row per issue type and run, saying whether it was checked (and why not) and what was found.
    """
    CREATE TABLE data_issue_findings (
        run_id VARCHAR NOT NULL,
        row_idx BIGINT NOT NULL,          -- 0-based position in the batch, as in scores
        row_id VARCHAR NOT NULL,
        issue_type VARCHAR NOT NULL,      -- exact_duplicate | conflicting_duplicate | near_duplicate | outlier
                                          -- | uncertain | leaked_duplicate
        score DOUBLE NOT NULL,            -- in [0, 1]; lower is more severe (cleanlab Datalab's convention)
        is_issue BOOLEAN NOT NULL,
        group_id BIGINT,                  -- duplicate / near-duplicate group within the run; NULL otherwise
        detail JSON                       -- per issue type: kept row, label mix, nearest row, earlier run, ...
    );
    CREATE VIEW data_issues AS
        SELECT run_id, row_id, issue_type, score, is_issue, group_id, detail FROM data_issue_findings;
    CREATE TABLE data_issue_summary (
        run_id VARCHAR NOT NULL,
        issue_type VARCHAR NOT NULL,      -- the row-level types above, and label_drift, class_imbalance
        checked BOOLEAN NOT NULL,         -- false: not run for this batch (message says why)
        rows BIGINT NOT NULL,             -- rows of the batch (or counted labels, for batch-level types)
        flagged BIGINT NOT NULL,          -- rows with is_issue (classes, for class_imbalance; 0/1 for drift)
        groups BIGINT,                    -- duplicate / near-duplicate groups; NULL otherwise
        rate DOUBLE,                      -- what the gate compares (flagged / rows; PSI; min class ratio)
        message VARCHAR
    );
    CREATE TABLE label_drift (
        run_id VARCHAR NOT NULL,
        history_runs INTEGER NOT NULL,    -- accepted earlier runs of the dataset counted as history
        batch_count BIGINT NOT NULL,      -- labels counted in this batch (rows, tags or tokens: the kind's unit)
        history_count BIGINT NOT NULL,
        chi2 DOUBLE,                      -- NULL without history
        dof INTEGER,
        p_value DOUBLE,
        psi DOUBLE,                       -- population-stability index
        gated_psi DOUBLE,                 -- psi when p_value < alpha, else 0: what max_label_drift_psi checks
        alpha DOUBLE NOT NULL,
        max_psi DOUBLE NOT NULL,
        is_drift BOOLEAN NOT NULL,
        new_classes JSON,                 -- in the batch, never in the history
        vanished_classes JSON             -- in the history, missing from the batch beyond chance
    );
    CREATE TABLE label_drift_classes (
        run_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        batch_count BIGINT NOT NULL,
        batch_share DOUBLE NOT NULL,
        history_count BIGINT NOT NULL,
        history_share DOUBLE NOT NULL,
        psi_term DOUBLE,                  -- the class's share of the PSI; NULL without history
        status VARCHAR NOT NULL           -- kept | new | vanished | absent (missing, plausibly by chance)
    );
    CREATE TABLE class_imbalance (
        run_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        share DOUBLE NOT NULL,
        ratio DOUBLE NOT NULL,            -- share / even share (1/K); min_class_share checks the smallest
        threshold DOUBLE NOT NULL,        -- ratio below which a class is named imbalanced
        is_imbalanced BOOLEAN NOT NULL
    );
    """,
    # 6: issue 15. What "classifier": "auto" compared (fit stage; no rows for a fixed classifier), the
    # neighbours' second opinion beside confident learning's per row (NULL for the sequence kinds and out of
    # core), and the model used, the flag rule and how the two opinions split in run_metrics.
    """
    CREATE TABLE model_candidates (
        run_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,            -- logistic_regression | hist_gradient_boosting | random_forest
                                          -- | candidates_mean (from migration 9)
        log_loss DOUBLE,                  -- out-of-fold, against the given labels; NULL when screened out
        accuracy DOUBLE,
        brier DOUBLE,                     -- mean over rows of sum_k (p_k - [k = given])^2
        seconds DOUBLE,                   -- summed over the folds
        screen_log_loss DOUBLE,           -- on the screening subsample; NULL when the batch was not screened
        screened_rows BIGINT,
        chosen BOOLEAN NOT NULL,
        criterion VARCHAR NOT NULL
    );
    ALTER TABLE scores ADD COLUMN cl_issue BOOLEAN;        -- confident learning's flag (is_issue: the flag_rule's)
    ALTER TABLE scores ADD COLUMN knn_agreement DOUBLE;    -- share of the k nearest rows carrying the row's label
    ALTER TABLE scores ADD COLUMN knn_disagrees BOOLEAN;   -- another class has more of those neighbours
    ALTER TABLE run_metrics ADD COLUMN model VARCHAR;      -- the classifier whose probabilities were scored
    ALTER TABLE run_metrics ADD COLUMN flag_rule VARCHAR;
    ALTER TABLE run_metrics ADD COLUMN neighbours INTEGER;
    ALTER TABLE run_metrics ADD COLUMN flagged_by_both BIGINT;
    ALTER TABLE run_metrics ADD COLUMN flagged_by_cl_only BIGINT;
    ALTER TABLE run_metrics ADD COLUMN flagged_by_neighbours_only BIGINT;
    """,
    # 7: reviewers' verdicts on data-issue findings (issue 14; labelaudit.review.issue_review). Human input like
    # review_verdicts, kept when a run is re-run; its own table because one row can be a label flag and a
    # duplicate and an outlier at once: the key carries the issue type.
    """
    CREATE TABLE data_issue_verdicts (
        dataset VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,          -- the run whose findings were reviewed
        row_id VARCHAR NOT NULL,
        issue_type VARCHAR NOT NULL,      -- as in data_issue_findings
        verdict VARCHAR NOT NULL,         -- error: the finding is real | correct: a false alarm | unsure
        corrected_label VARCHAR,          -- optional: the right label a reviewer gave (e.g. a conflicting duplicate)
        score DOUBLE,                     -- the finding's score in that run (from data_issue_findings)
        reviewer VARCHAR,
        import_id VARCHAR NOT NULL,       -- shared with review_verdicts' rows of the same sheet
        source_file VARCHAR,
        imported_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (import_id, row_id, issue_type)
    );
    """,
    # 8: issue 13, `labelaudit score --engine dask`: which engine scored the run and on how many workers, and
    # where its per-row Parquet results are (scoring_path 'distributed'; scores then holds the flagged rows
    # only, and the view rows_<run id> reads every row: labelaudit.pipeline.streamed_distributed).
    """
    ALTER TABLE run_metrics ADD COLUMN engine VARCHAR;     -- local | dask; NULL for runs before this column
    ALTER TABLE run_metrics ADD COLUMN workers INTEGER;    -- Dask workers when the run was scored
    ALTER TABLE run_metrics ADD COLUMN rows_url VARCHAR;   -- <results>/rows: per-row Parquet files and _SUCCESS
    """,
    # 9: issue 15, auto also compares the mean of its best candidates' probabilities (a row named
    # candidates_mean; labelaudit.models.candidates.MEAN): which candidates it averages.
    """
    ALTER TABLE model_candidates ADD COLUMN in_mean BOOLEAN;  -- averaged into candidates_mean; NULL on its row
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

#: The tables each stage writes (and replaces, for its run) in one transaction.
STAGE_TABLES: dict[str, tuple[str, ...]] = {
    "ingest": ("batches", "ingested_columns", "ingested_rows"),
    "validate": ("validation_results",),
    # with --annotations or confirmed review corrections only: the labels the audit fits, before fitting
    "labels": ("annotations",),
    "fit": ("classes", "fold_metrics", "oof_probs", "model_candidates"),
    "score": ("scores", "noise_matrix", "class_metrics", "run_metrics", "label_issue_details"),
    # with --annotations only: CROWDLAB consensus and the labeler profiles, after scoring
    "labelers": (
        "item_consensus",
        "labeler_profiles",
        "labeler_class_profiles",
        "labeler_confusions",
        "labeler_routing",
    ),
    # issue 14, after fit (the model-unsure rows read the out-of-fold probabilities), before the gate: row
    # hashes (duplicates; later batches' leakage checks), the findings, drift and imbalance
    "data_issues": (
        "row_hashes",
        "data_issue_findings",
        "data_issue_summary",
        "label_drift",
        "label_drift_classes",
        "class_imbalance",
    ),
    "gate": ("gate_results",),
    "report": (),
}

#: Every table keyed by run id, in the order a run's rows are deleted. ``review_verdicts``,
#: ``data_issue_verdicts`` and ``exports`` are left out on purpose: they record what people did with a run, and
#: survive a re-run of it.
RUN_TABLES: tuple[str, ...] = (
    *(table for tables in reversed(STAGE_TABLES.values()) for table in tables),
    "run_stages",
    "runs",
)
