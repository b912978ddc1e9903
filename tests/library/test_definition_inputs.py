"""Definitions meet real files: `init` on what spreadsheets export, label guessing, suites GX would half-run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labelaudit.flows.cli import app
from typer.testing import CliRunner

from labelaudit.errors import DefinitionError
from labelaudit.inputs.definition import check_suite, load_dataset
from tests.conftest import REPO

WINE = "wine_id;alcohol;malic_acid;cultivar\n" + "".join(
    f"W{i};{12 + i % 3},{i % 10};{1 + i % 4},5;{['barolo', 'merlot', 'rioja'][i % 3]}\n" for i in range(30)
)


def _init(tmp_path: Path, source: Path, *extra: str):
    command = ["init", str(source), "--dataset", "wine", "--expectations", str(tmp_path / "exp"), *extra]
    return CliRunner().invoke(app, command)


def test_init_reads_a_semicolon_csv_and_says_which_delimiter(tmp_path: Path) -> None:
    source = tmp_path / "wine.csv"
    source.write_text(WINE, encoding="utf-8")

    result = _init(tmp_path, source, "--label", "cultivar", "--id", "wine_id")

    assert result.exit_code == 0, result.output
    assert "delimiter ';' (detected)" in result.stderr
    definition = json.loads((tmp_path / "exp" / "wine" / "dataset.json").read_text())
    assert definition["classes"] == ["barolo", "merlot", "rioja"]
    assert [f["name"] for f in definition["features"]] == ["alcohol", "malic_acid"]


def test_init_with_the_wrong_delimiter_names_the_joined_column(tmp_path: Path) -> None:
    source = tmp_path / "wine.csv"
    source.write_text(WINE, encoding="utf-8")

    result = _init(tmp_path, source, "--label", "cultivar", "--delimiter", ",")

    assert result.exit_code == 2
    assert "single column 'wine_id;alcohol;malic_acid;cultivar'" in result.stderr
    assert "--delimiter ';'" in result.stderr


def test_init_reads_latin1_with_encoding(tmp_path: Path) -> None:
    source = tmp_path / "wine.csv"
    source.write_bytes(WINE.replace("rioja", "ribera_del_duero_ñ").encode("latin-1"))

    refused = _init(tmp_path, source, "--label", "cultivar")
    result = _init(tmp_path, source, "--label", "cultivar", "--encoding", "latin-1")

    assert refused.exit_code == 2 and "line 4 (row 3" in refused.stderr and "--encoding" in refused.stderr
    assert result.exit_code == 0, result.output
    classes = json.loads((tmp_path / "exp" / "wine" / "dataset.json").read_text(encoding="utf-8"))["classes"]
    assert "ribera_del_duero_ñ" in classes


def test_init_without_label_lists_the_candidates(tmp_path: Path) -> None:
    source = tmp_path / "wine.csv"
    source.write_text(WINE, encoding="utf-8")

    result = _init(tmp_path, source)

    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "None" not in message
    assert "no label column could be guessed" in message and "pass --label" in message
    assert "candidates: cultivar" in message  # few distinct values first; the ids are not candidates
    assert "wine_id" not in message.split("candidates:")[1]


def test_init_with_a_misspelt_label_suggests_the_column(tmp_path: Path) -> None:
    source = tmp_path / "wine.csv"
    source.write_text(WINE, encoding="utf-8")

    result = _init(tmp_path, source, "--label", "cultivars")

    assert result.exit_code == 2 and "did you mean 'cultivar'?" in result.stderr


def _penguins(tmp_path: Path) -> Path:
    folder = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations" / "penguins", folder / "penguins")
    return folder


@pytest.mark.parametrize(
    ("expectation", "expected"),
    [
        (
            {"type": "expect_column_to_be_purple", "kwargs": {"column": "species"}},
            "(expect_column_to_be_purple): is not an expectation type Great Expectations knows",
        ),
        ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "species"}}, "value_set"),
        ({"kwargs": {"column": "species"}}, 'needs a "type"'),
    ],
    ids=["unknown type", "missing argument", "no type"],
)
def test_a_suite_expectation_gx_would_drop_is_refused(tmp_path: Path, expectation: dict, expected: str) -> None:
    folder = _penguins(tmp_path)
    path = folder / "penguins" / "suite.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append(expectation)
    path.write_text(json.dumps(suite))
    bundle = load_dataset(folder, "penguins")  # cheap: no GX import here

    with pytest.raises(DefinitionError) as error:
        check_suite(bundle.suite, path)

    position = len(suite["expectations"])
    assert str(error.value).startswith(f"{path}: expectation {position} ")
    assert expected in str(error.value)


def test_the_shipped_suites_pass_the_check() -> None:
    for path in sorted((REPO / "expectations").glob("*/suite.json")):
        check_suite(json.loads(path.read_text()), path)


def test_label_normalisation_is_validated(tmp_path: Path) -> None:
    folder = _penguins(tmp_path)
    path = folder / "penguins" / "dataset.json"
    definition = json.loads(path.read_text())
    path.write_text(json.dumps({**definition, "label_normalisation": "lower"}))

    with pytest.raises(DefinitionError, match="label_normalisation"):
        load_dataset(folder, "penguins")
    path.write_text(json.dumps({**definition, "label_normalisation": "strip"}))
    assert load_dataset(folder, "penguins").definition.label_normalisation == "strip"
