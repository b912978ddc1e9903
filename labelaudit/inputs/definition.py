"""Dataset definitions: what a batch of a dataset looks like and what quality it must reach.

A definition is data, not code. It lives in ``expectations/<dataset>/`` as three JSON files, so a data lead
can review a threshold change like any other config change:

- ``dataset.json``: the label, id, feature and annotator columns, the feature roles, the model and folds;
- ``suite.json``: a Great Expectations Core 1.x expectation suite for the schema of a batch;
- ``quality.json``: the thresholds of the quality gate.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from labelaudit.errors import DefinitionError

M = TypeVar("M", bound="BaseModel")
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Role(StrEnum):
    """How a feature column enters the model."""

    numeric = "numeric"
    categorical = "categorical"
    text = "text"
    embedding = "embedding"


#: The classifiers a definition can name; ``"auto"`` chooses among them by out-of-fold log-loss.
Classifier = Literal["logistic_regression", "hist_gradient_boosting", "random_forest"]
#: How confident learning's flags and the neighbour score combine (:mod:`labelaudit.models.neighbour_score`).
FlagRule = Literal["confident_learning", "both", "either", "rank"]


class _OmitsNewDefaults(BaseModel):
    """Leaves fields added after the fold cache existed out of dumps while they hold their default.

    The fold cache key hashes ``DatasetDefinition.model_dump_json()``: a definition that does not use a new
    option must dump exactly as before, so its cached folds stay valid (and ``dataset.json`` stays short).
    """

    _omit_at_default: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for name in self._omit_at_default:
            if getattr(self, name) == type(self).model_fields[name].get_default(call_default_factory=True):
                data.pop(name, None)
        return data


class Feature(_OmitsNewDefaults):
    """One feature column, or one block of embedding columns.

    ``required`` features must be non-null (checked by the schema suite). A feature of role ``embedding`` is a
    dense vector spread over several numeric columns: ``columns`` lists them, or is one glob pattern
    (``"emb_*"``) matched against the batch's columns; ``name`` then names the block, not a column. Or
    ``file`` names a Parquet or ``.npz`` file of vectors keyed by the batch's ids (relative paths from the
    definition's folder), joined in as columns ``<name>_0`` ... by :func:`labelaudit.models.embeddings.attach`.
    """

    _omit_at_default: ClassVar[tuple[str, ...]] = ("columns", "file")
    model_config = ConfigDict(extra="forbid")
    name: str
    role: Role
    required: bool = False
    columns: list[str] | str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _columns_for_embeddings(self) -> Feature:
        if self.role == Role.embedding and bool(self.columns) == bool(self.file):
            raise ValueError(
                f"embedding feature {self.name!r} needs either columns (a list of column names or a pattern "
                "like 'emb_*') or file (a Parquet or .npz file of vectors keyed by id)"
            )
        if self.role != Role.embedding and (self.columns is not None or self.file is not None):
            raise ValueError(f"feature {self.name!r}: columns and file are only used with role 'embedding'")
        return self

    def column_names(self, available: list[str] | None = None) -> list[str]:
        """The batch columns of this feature; a pattern is matched against ``available`` (in their order)."""
        if self.role != Role.embedding:
            return [self.name]
        if isinstance(self.columns, list):
            return list(self.columns)
        if available is None:
            return []
        pattern = f"{self.name}_[0-9]*" if self.file else str(self.columns)
        return [c for c in available if fnmatchcase(c, pattern)]


class ModelSpec(_OmitsNewDefaults):
    """The classifier fitted in each fold; ``params`` go to its constructor.

    ``"auto"`` fits every candidate (``candidates``, default: the families that suit the feature roles) in each
    fold and keeps the one with the best out-of-fold log-loss (:mod:`labelaudit.models.selection`). Batches of
    more than ``screen_above`` rows first screen the candidates on a stratified subsample of ``screen_rows``
    rows, so the cost grows like one or two models, not all of them (``docs/models.md``).
    """

    _omit_at_default: ClassVar[tuple[str, ...]] = ("candidates", "screen_above", "screen_rows")
    model_config = ConfigDict(extra="forbid")
    classifier: Literal["auto"] | Classifier = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    candidates: list[Classifier] | None = None
    screen_above: int = Field(default=20_000, ge=50)
    screen_rows: int = Field(default=5_000, ge=50)

    @model_validator(mode="after")
    def _auto_options(self) -> ModelSpec:
        if self.classifier == "auto" and self.params:
            raise ValueError("params set one fixed classifier's options; with classifier 'auto' leave them out")
        if self.classifier != "auto" and self.candidates is not None:
            raise ValueError("candidates is only used with classifier 'auto'")
        if self.candidates is not None and len(set(self.candidates)) != len(self.candidates):
            raise ValueError("candidates lists a classifier twice")
        return self


class AnnotationsSpec(BaseModel):
    """Column names of a long-format annotations file (one row per item, annotator and label).

    Given to an audit with ``--annotations FILE``; without this block in ``dataset.json`` the defaults below
    apply. ``item_column`` holds the batch's row ids (the definition's ``id_column``). With a
    ``timestamp_column``, an annotator's latest label of an item counts; without one, a repeated
    (item, annotator) pair is an error.
    """

    model_config = ConfigDict(extra="forbid")
    item_column: str = "item_id"
    annotator_column: str = "annotator_id"
    label_column: str = "label"
    timestamp_column: str | None = None


class DatasetDefinition(_OmitsNewDefaults):
    """The contents of ``dataset.json``.

    ``classes`` fixes the label values and their order (the column order of predicted probabilities); when
    omitted, the sorted distinct labels of the batch are used. ``flag_rule`` says how confident learning's
    flags combine with the k-nearest-neighbour label agreement (``neighbours`` neighbours per row):
    ``confident_learning`` (CL alone, the default), ``both`` (flag where CL flags and the neighbours disagree
    with the label), ``either``, or ``rank`` (as many flags as CL, chosen by the mean of both scores); see
    :func:`labelaudit.models.neighbour_score.combine_flags`.
    """

    _omit_at_default: ClassVar[tuple[str, ...]] = ("flag_rule", "neighbours")
    model_config = ConfigDict(extra="forbid")
    name: str
    label_column: str
    id_column: str | None = None
    features: list[Feature] = Field(default_factory=list)
    annotator_column: str | None = None
    label_type: Literal["multiclass", "multilabel", "token"] = "multiclass"
    # multilabel: the label column lists a row's classes; token: one sentence per row, ``tokens_column`` holds
    # its tokens and the label column one class per token (formats: labelaudit.inputs.label_formats, README)
    label_format: Literal["auto", "delimited", "json"] = "auto"
    label_separator: str = Field(default="|", min_length=1)
    tokens_column: str | None = None
    context_window: int = Field(default=2, ge=0, le=10)
    classes: list[str] | None = None
    folds: int = Field(default=5, ge=2, le=50)
    seed: int = 0
    model: ModelSpec = Field(default_factory=ModelSpec)
    filter_by: str = "prune_by_noise_rate"
    annotations: AnnotationsSpec | None = None
    # "strip": remove spaces around each label as it is read (off by default: "a " and "a" may differ on purpose)
    label_normalisation: Literal["none", "strip"] = "none"
    flag_rule: FlagRule = "confident_learning"
    neighbours: int = Field(default=10, ge=1, le=200)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # The name becomes a folder under reports/: refuse anything that could escape it.
        if not DATASET_NAME.match(value) or ".." in value:
            raise ValueError(
                f"dataset name {value!r} must be 1-64 characters of letters, digits, '_', '-' or '.', "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _columns_distinct(self) -> DatasetDefinition:
        names = [f.name for f in self.features] + [
            c for f in self.features if f.role == Role.embedding for c in f.column_names()
        ]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feature columns listed twice: {dupes}")
        special = {self.label_column, self.id_column, self.annotator_column} - {None}
        clash = sorted(special.intersection(names))
        if clash:
            raise ValueError(f"columns {clash} are both a feature and the label/id/annotator column")
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError("classes contains duplicates")
        # These two checks stay here rather than asking the kind: the kinds import this module (a definition is
        # what they read), so asking them back would be an import cycle; they validate the JSON itself.
        if self.label_type == "token" and not self.tokens_column:
            raise ValueError("label_type 'token' needs tokens_column (the column holding each sentence's tokens)")
        if self.tokens_column is not None and self.label_type != "token":
            raise ValueError("tokens_column is only used with label_type 'token'")
        if self.tokens_column is not None and self.tokens_column in special | set(names):
            raise ValueError(f"tokens_column {self.tokens_column!r} is also the label/id/annotator or a feature column")
        return self

    @property
    def feature_names(self) -> list[str]:
        """The batch columns the model reads (an embedding block given by a pattern is resolved by
        :meth:`model_columns`, which needs the batch's columns)."""
        return [c for f in self.features for c in f.column_names()]

    def model_columns(self, available: list[str]) -> list[str]:
        """:attr:`feature_names` with every embedding pattern matched against the batch's ``available`` columns."""
        return [c for f in self.features for c in f.column_names(available)]

    def columns_by_role(self, role: Role, available: list[str] | None = None) -> list[str]:
        return [c for f in self.features if f.role == role for c in f.column_names(available)]


class ReviewCutoffOption(BaseModel):
    """``quality.json``'s ``flag_cutoff_from_reviews``: flag only where reviewers found the flags precise.

    When set, an audit computes from every review verdict stored for the dataset so far the label-quality
    cut-off whose flags reached ``target_precision`` (:func:`labelaudit.review.verdicts.cutoff_for_target_precision`)
    and then flags a row only if confident learning flags it AND its score is at or below that cut-off
    (a restriction of CL's mask, never an extension: verdicts exist only for rows CL flagged). With fewer than
    ``min_verdicts`` decided verdicts, or no cut-off reaching the target, CL's mask is used unchanged; the score
    stage's message says which happened.
    """

    model_config = ConfigDict(extra="forbid")
    target_precision: float = Field(default=0.9, gt=0, le=1)
    min_verdicts: int = Field(default=20, ge=1)
    min_flagged: int = Field(default=10, ge=1)


class QualityThresholds(BaseModel):
    """The contents of ``quality.json``: the gate a batch must pass.

    Rates are fractions in [0, 1]. ``None`` disables a threshold.
    """

    model_config = ConfigDict(extra="forbid")
    max_label_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_class_label_error_rate: dict[str, float] = Field(default_factory=dict)
    max_flagged_rate: float | None = Field(default=None, ge=0, le=1)
    min_oof_accuracy: float | None = Field(default=None, ge=0, le=1)
    flag_cutoff_from_reviews: ReviewCutoffOption | None = None
    # data issues (labelaudit.data_issues): None = not checked
    max_duplicate_rate: float | None = Field(default=None, ge=0, le=1)  # rows beyond the first of a group
    max_conflicting_duplicate_rate: float | None = Field(default=None, ge=0, le=1)  # rows in conflicting groups
    max_leaked_rate: float | None = Field(default=None, ge=0, le=1)  # rows repeating an earlier batch's row
    max_label_drift_psi: float | None = Field(default=None, ge=0)  # PSI, counted only when chi-square p < alpha
    label_drift_alpha: float = Field(default=0.01, gt=0, lt=1)
    max_near_duplicate_rate: float | None = Field(default=None, ge=0, le=1)  # rows in a near-duplicate group
    max_outlier_rate: float | None = Field(default=None, ge=0, le=1)  # feature-space outliers (data_issues.outliers)
    min_class_share: float | None = Field(default=None, ge=0, le=1)  # rarest class's share / even share 1/K

    @field_validator("max_class_label_error_rate")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"per-class rates must be within [0, 1]: {bad}")
        return value


class DatasetBundle(BaseModel):
    """A loaded definition: the three files, and the folder they came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    definition: DatasetDefinition
    suite: dict[str, Any]
    quality: QualityThresholds
    folder: Path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DefinitionError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


def _parse(model: type[M], path: Path) -> M:
    try:
        return model.model_validate(_read_json(path))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise DefinitionError(f"{path}: {problems}") from exc


def dataset_folder(expectations_dir: Path, dataset: str) -> Path:
    """The folder of ``dataset``, refusing names that would leave ``expectations_dir``."""
    if not DATASET_NAME.match(dataset) or ".." in dataset:
        raise DefinitionError(f"invalid dataset name {dataset!r}")
    return expectations_dir / dataset


def load_dataset(expectations_dir: Path, dataset: str) -> DatasetBundle:
    """Load and check ``expectations/<dataset>/{dataset,suite,quality}.json``."""
    folder = dataset_folder(expectations_dir, dataset)
    if not folder.is_dir():
        known = sorted(p.parent.name for p in expectations_dir.glob("*/dataset.json"))
        hint = f" (known datasets: {', '.join(known)})" if known else ""
        raise DefinitionError(
            f"no definition for dataset {dataset!r} in {folder}{hint}; "
            f"write one with: labelaudit init <file> --dataset {dataset}"
        )
    definition = _parse(DatasetDefinition, folder / "dataset.json")
    if definition.name != dataset:
        raise DefinitionError(f"{folder / 'dataset.json'}: name is {definition.name!r}, expected {dataset!r}")
    suite = _read_json(folder / "suite.json")
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise DefinitionError(f"{folder / 'suite.json'}: expected an object with an 'expectations' list")
    quality = _parse(QualityThresholds, folder / "quality.json")
    return DatasetBundle(definition=definition, suite=suite, quality=quality, folder=folder)


def check_suite(suite: Any, path: Path) -> None:
    """Refuse a suite Great Expectations would run partly: GX drops an expectation it cannot build with only a log.

    Each expectation is built as GX will build it (unknown type, missing or wrong arguments), so a typo in
    ``suite.json`` stops the run naming the file and the expectation instead of silently checking less.
    It imports Great Expectations (seconds), so :func:`load_dataset` does not call it; the schema task does,
    just before the suite runs.
    """
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise DefinitionError(f"{path}: expected an object with an 'expectations' list")
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    for position, expectation in enumerate(suite["expectations"], start=1):
        if not isinstance(expectation, dict) or not isinstance(expectation.get("type"), str):
            raise DefinitionError(f'{path}: expectation {position} needs a "type" (e.g. expect_column_to_exist)')
        name = expectation["type"]
        try:
            ExpectationConfiguration(**expectation).to_domain_obj()
        except Exception as exc:  # GX raises its own errors, pydantic's and TypeError for bad arguments
            unknown = isinstance(exc, ExpectationNotFoundError)
            reason = "is not an expectation type Great Expectations knows" if unknown else " ".join(str(exc).split())
            raise DefinitionError(f"{path}: expectation {position} ({name}): {reason}") from exc


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as stable, reviewable JSON (sorted nowhere: the order is meaningful to readers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
