"""The project config: one file (``labelaudit.toml`` at the project root) listing the datasets to audit.

It says, per dataset, where the batches come from, when to audit them, on which task runner, and which
parameters differ from the dataset definition. ``labelaudit serve`` turns it into Prefect deployments.
Example::

    [project]
    database = "labelaudit.duckdb"           # paths are relative to this file
    reports = "reports"
    expectations = "expectations"
    report_base_url = "http://127.0.0.1:8765"

    [[datasets]]
    name = "penguins"                        # deployments penguins-audit, penguins-new-batches; the definition too
    source = "data/penguins/incoming/*.csv"  # a path, a glob, or duckdb:///db.duckdb?query=SELECT ...
    # duckdb:///db.duckdb is relative to this file's folder, duckdb:////abs/db.duckdb absolute
    schedule = { cron = "0 6 * * *", timezone = "Europe/Paris", active = true }
    task_runner = { kind = "threads", max_workers = 2 }
    parameters = { folds = 5, thresholds = { max_label_error_rate = 0.08 } }

This module reads and validates the file; it never imports Prefect.
"""

from __future__ import annotations

import glob
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labelaudit.errors import InputDataError, LabelAuditError
from labelaudit.inputs.sources import resolve_duckdb_url

#: The file ``labelaudit serve`` reads when no ``--config`` is given.
DEFAULT_CONFIG = "labelaudit.toml"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_GLOB_CHARS = re.compile(r"[*?\[]")


class ProjectConfigError(LabelAuditError, ValueError):
    """The project config file is missing or invalid; the message names the file and the field."""


class ScheduleConfig(BaseModel):
    """When the recurring audit of a dataset runs: a cron expression in a time zone, active or paused."""

    model_config = ConfigDict(extra="forbid")
    cron: str
    timezone: str = "UTC"
    active: bool = True

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) not in (5, 6):
            raise ValueError(f"cron {value!r} needs 5 fields (minute hour day month weekday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from exc
        return value


class TaskRunnerConfig(BaseModel):
    """Where the folds run: a thread pool in the flow's process (default) or a Dask cluster.

    ``dask`` without ``address`` starts a local cluster of ``n_workers`` processes for each run; with an
    address (``tcp://scheduler:8786``) it uses that existing cluster.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["threads", "dask"] = "threads"
    max_workers: int | None = Field(default=None, ge=1)
    address: str | None = None
    n_workers: int = Field(default=2, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _address_needs_dask(self) -> TaskRunnerConfig:
        if self.address and self.kind != "dask":
            raise ValueError("address is only used with kind = 'dask'")
        return self


class AuditParameters(BaseModel):
    """Per-dataset defaults of the audit flow's parameters (the form fields of the deployment in the UI)."""

    model_config = ConfigDict(extra="forbid")
    folds: int | None = Field(default=None, ge=2, le=50)
    model: Literal["logistic_regression", "hist_gradient_boosting", "random_forest"] | None = None
    probabilities: str | None = None
    annotations: str | None = None
    thresholds: dict[str, Any] | None = None
    data_docs: bool | None = None


class DatasetConfig(BaseModel):
    """One dataset to audit."""

    model_config = ConfigDict(extra="forbid")
    name: str
    definition: str | None = None
    source: str
    description: str | None = None
    schedule: ScheduleConfig | None = None
    task_runner: TaskRunnerConfig = Field(default_factory=TaskRunnerConfig)
    parameters: AuditParameters = Field(default_factory=AuditParameters)
    concurrency_limit: int | None = Field(default=None, ge=1)

    @field_validator("name", "definition")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"{value!r} must be 1-64 letters, digits, '_', '-' or '.'")
        return value

    @property
    def definition_name(self) -> str:
        return self.definition or self.name

    @property
    def is_sql(self) -> bool:
        return self.source.startswith("duckdb:")

    @property
    def is_glob(self) -> bool:
        return not self.is_sql and bool(_GLOB_CHARS.search(self.source))

    def overrides(self) -> dict[str, Any]:
        """The audit parameters this dataset sets (the others keep the definition's values)."""
        return self.parameters.model_dump(exclude_none=True)


class ProjectSettings(BaseModel):
    """Locations shared by every dataset; ``None`` keeps labelaudit's environment defaults."""

    model_config = ConfigDict(extra="forbid")
    database: str | None = None
    reports: str | None = None
    expectations: str | None = None
    report_base_url: str | None = None


class ProjectConfig(BaseModel):
    """The whole file: project locations and the datasets. Relative paths are resolved against ``root``."""

    model_config = ConfigDict(extra="forbid")
    root: Path
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    datasets: list[DatasetConfig]

    @model_validator(mode="after")
    def _distinct_names(self) -> ProjectConfig:
        names = [d.name for d in self.datasets]
        if not names:
            raise ValueError("the config lists no [[datasets]]")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"dataset names must be distinct; repeated: {duplicates}")
        return self

    def dataset(self, name: str) -> DatasetConfig:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        listed = [d.name for d in self.datasets]
        raise ProjectConfigError(f"no dataset {name!r} in the project config; it lists {listed}")

    def resolve_path(self, value: str | None) -> str | None:
        """A path relative to the config file made absolute; URLs (``s3://``, ``duckdb:``) are kept."""
        if value is None or "://" in value or value.startswith("duckdb:"):
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (self.root / path).resolve())

    def resolve_source(self, dataset: DatasetConfig) -> str:
        """The dataset's source with a relative file path or glob (or DuckDB file) made absolute."""
        if dataset.is_sql:  # duckdb:///relative.duckdb (to this file), duckdb:////absolute.duckdb: see sources
            try:
                return resolve_duckdb_url(dataset.source, self.root)
            except InputDataError as exc:
                raise ProjectConfigError(f"dataset {dataset.name!r}: {exc}") from exc
        return str(self.resolve_path(dataset.source))

    def locations(self) -> dict[str, str | None]:
        """The audit flow's ``database``/``reports``/``expectations`` parameters, resolved."""
        return {
            "database": self.resolve_path(self.project.database),
            "reports": self.resolve_path(self.project.reports),
            "expectations": self.resolve_path(self.project.expectations),
        }


def load_project_config(path: str | Path = DEFAULT_CONFIG) -> ProjectConfig:
    """Read and validate the project config.

    Parameters
    ----------
    path : str or Path, default="labelaudit.toml"
        The TOML file; relative paths inside it are relative to its folder.

    Returns
    -------
    ProjectConfig
        Validated; :class:`ProjectConfigError` names the file and the offending field otherwise.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ProjectConfigError(f"no project config at {file}; create one (see docs/operations.md) or pass --config")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectConfigError(f"{file} is not valid TOML: {exc}") from exc
    try:
        return ProjectConfig.model_validate({**raw, "root": file.resolve().parent})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors(include_url=False)
        )
        raise ProjectConfigError(f"{file}: {problems}") from exc


def expand_source(source: str) -> list[Path]:
    """The files a path or glob names, sorted by name (a plain path that does not exist gives ``[]``)."""
    if _GLOB_CHARS.search(source):
        return sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
    path = Path(source)
    return [path] if path.is_file() else []
