"""The commands that audit: ``labelaudit audit`` (a batch, in memory), ``labelaudit score`` (a probabilities
file, out of core) and ``labelaudit init`` (a starting definition for a new dataset)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from labelaudit.flows.cli_common import (
    DatabaseOption,
    DelimiterOption,
    EncodingOption,
    ExpectationsOption,
    ReportsOption,
    VerboseOption,
    app,
    read_options,
    settings_for,
)
from labelaudit.flows.cli_run import run_flow


# Over 60 lines: 24 are the command's options (typer reads them from the signature), 6 its help.
@app.command()
def audit(
    source: Annotated[str, typer.Argument(help="Batch file (.csv, .tsv, .parquet) or duckdb:///db.duckdb?query=...")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset definition name (folder in expectations/)")],
    folds: Annotated[int | None, typer.Option(help="Cross-validation folds (default: the definition's)")] = None,
    model: Annotated[
        str | None, typer.Option(help="logistic_regression | hist_gradient_boosting | random_forest")
    ] = None,
    probabilities: Annotated[
        str | None, typer.Option(help="Precomputed probabilities (id + one column per class); skips fitting")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Re-run this run id, replacing its output")] = None,
    data_docs: Annotated[bool, typer.Option(help="Build GX Data Docs next to the report")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout")] = False,
    db: DatabaseOption = None,
    reports: ReportsOption = None,
    expectations: ExpectationsOption = None,
    annotations: Annotated[
        str | None,
        typer.Option(help="Long-format annotations (item id, annotator id, label): majority vote, CROWDLAB, labelers"),
    ] = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Audit one batch: validate, fit out-of-fold, score with confident learning, publish the report, gate.

    Exit status: 0 accepted, 1 rejected by the quality gate, 2 bad input, 3 database locked.

    Example: labelaudit audit data/penguins/penguins_batch.csv --dataset penguins
    """
    settings = settings_for(database=db, reports_dir=reports, expectations_dir=expectations)

    def quick_checks() -> Any:
        from labelaudit.inputs.preflight import check_audit_inputs

        return check_audit_inputs(
            settings, dataset, source, folds=folds, model=model, probabilities=probabilities, annotations=annotations
        )

    def checks(bundle: Any) -> None:
        from labelaudit.inputs.preflight import check_source_columns

        check_source_columns(source, bundle, read_options(source, delimiter, encoding))

    def run(run_id: str) -> Any:
        import great_expectations  # noqa: F401  (the validation stage's: imported while the API boots)
        from labelaudit.flows.audit import audit as audit_flow

        return lambda: audit_flow(
            dataset=dataset,
            source=source,
            folds=folds,
            model=model,
            probabilities=probabilities,
            run_id=run_id,
            **settings.locations(),
            data_docs=data_docs,
            annotations=annotations,
            delimiter=delimiter,
            encoding=encoding,
            return_state=True,
        )

    run_flow(settings, run_id, verbose, as_json, (quick_checks, checks), run)


@app.command()
def score(
    probabilities: Annotated[
        str, typer.Argument(help="Parquet file: id, given label and one probability column per class")
    ],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset definition name (its classes)")],
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Id column (default: the definition's id_column)")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option("--label-column", help="Given-label column (default: the definition's)")
    ] = None,
    memory_budget: Annotated[
        str | None, typer.Option("--memory-budget", help="e.g. 2GiB [env LABELAUDIT_MEMORY_BUDGET; default 2GiB]")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Re-run this run id, replacing its output")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout")] = False,
    db: DatabaseOption = None,
    reports: ReportsOption = None,
    expectations: ExpectationsOption = None,
    verbose: VerboseOption = False,
    engine: Annotated[
        str, typer.Option(help="local: one file on this machine | dask: a Parquet dataset on a Dask cluster")
    ] = "local",
    workers: Annotated[int, typer.Option(help="--engine dask: worker processes of a local cluster", min=1)] = 2,
    address: Annotated[
        str | None, typer.Option(help="--engine dask: an existing scheduler, e.g. tcp://scheduler:8786")
    ] = None,
    results: Annotated[
        str | None, typer.Option(help="--engine dask: per-row Parquet results to (default: beside the report)")
    ] = None,
    partition_rows: Annotated[
        int, typer.Option("--partition-rows", help="--engine dask: rows per partition (a worker's memory)", min=1)
    ] = 1 << 20,
) -> None:
    """Score probabilities from your own model out of core (any number of rows), publish the report, gate.

    Streams the file in batches (memory stays within the budget), checks it with DuckDB, stores every row's
    score, and states "out-of-core" in the report. Exit status: 0 accepted, 1 rejected by the quality gate,
    2 bad input, 3 database locked.

    With --engine dask the source may be a Parquet dataset (a folder, a glob or an fsspec URL), scored exactly on
    a Dask cluster (--workers N local processes, or --address of a scheduler); every row's result is written as
    Parquet beside the report, and DuckDB keeps the flagged rows and a view rows_<run id> over all of them.

    Example: labelaudit score model_probs.parquet --dataset products --id-column sku
    """
    settings = settings_for(database=db, reports_dir=reports, expectations_dir=expectations)
    if engine not in ("local", "dask"):
        raise typer.BadParameter(f"--engine must be local or dask, not {engine!r}", param_hint="--engine")
    if engine == "dask":
        options = {"workers": workers, "address": address, "results": results, "partition_rows": partition_rows}
        _score_on_dask(settings, probabilities, dataset, id_column, label_column, run_id, verbose, as_json, options)
    else:
        columns = {"id_column": id_column, "label_column": label_column}
        _score_locally(settings, probabilities, dataset, columns, memory_budget, run_id, verbose, as_json)


def _score_locally(
    settings: Any,
    source: str,
    dataset: str,
    columns: dict[str, str | None],
    memory_budget: str | None,
    run_id: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """One Parquet file or DuckDB table streamed on this machine (the ``score_probabilities`` flow)."""

    def quick_checks() -> Any:
        from labelaudit.inputs.preflight import check_score_inputs

        return check_score_inputs(settings, dataset, source)

    def run(run_id: str) -> Any:
        from labelaudit.flows.score_probabilities import score_probabilities

        return lambda: score_probabilities(
            dataset=dataset,
            source=source,
            **columns,
            run_id=run_id,
            **settings.locations(),
            memory_budget=memory_budget,
            return_state=True,
        )

    run_flow(settings, run_id, verbose, as_json, (quick_checks, lambda bundle: None), run)


def _score_on_dask(
    settings: Any,
    source: str,
    dataset: str,
    id_column: str | None,
    label_column: str | None,
    run_id: str | None,
    verbose: bool,
    as_json: bool,
    options: dict[str, Any],
) -> None:
    """``labelaudit score --engine dask``: the score-distributed flow, which opens and closes the cluster."""

    def quick_checks() -> Any:
        from labelaudit.inputs.preflight import check_score_inputs, load_bundle

        if "://" in source or any(c in source for c in "*?["):
            return load_bundle(settings, dataset)  # a URL or a glob: its files are listed by the ingest stage
        return check_score_inputs(settings, dataset, source)

    def run(run_id: str) -> Any:
        from labelaudit.flows.score_distributed import score_distributed_flow

        return lambda: score_distributed_flow(
            dataset=dataset,
            source=source,
            id_column=id_column,
            label_column=label_column,
            run_id=run_id,
            **settings.locations(),
            **options,
            return_state=True,
        )

    run_flow(settings, run_id, verbose, as_json, (quick_checks, lambda bundle: None), run)


@app.command()
def init(
    source: Annotated[str, typer.Argument(help="A sample batch to infer the definition from")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Name of the new dataset definition")],
    label: Annotated[str | None, typer.Option(help="Label column (default: a column named label/class/target)")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Id column (default: a column named id)")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing definition")] = False,
    expectations: ExpectationsOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Write a starting definition (dataset.json, suite.json, quality.json) inferred from a file, to edit.

    Example: labelaudit init batch.csv --dataset products --label category --id sku
    """
    from labelaudit.inputs.infer_definition import write_definition

    settings = settings_for(expectations_dir=expectations)
    options = read_options(source, delimiter, encoding)
    folder = write_definition(
        source, dataset, settings.expectations_dir, label_column=label, id_column=id_column, overwrite=force,
        options=options,
    )  # fmt: skip
    typer.echo(f"wrote {folder}/dataset.json, suite.json and quality.json: review them, then run")
    typer.echo(f"  labelaudit audit {source} --dataset {dataset}")
