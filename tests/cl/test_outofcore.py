"""The out-of-core path gives exactly the in-memory results, from Parquet and from DuckDB."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelaudit.cl import filter, outofcore
from labelaudit.cl._engine.validation import InvalidLabelsError, InvalidPredProbsError, ProbabilitiesRenormalisedWarning
from tests.cl._oracle import noisy_data, tied_data


def _write_parquet(path, labels, probs):
    columns = {"label": labels, **{f"p{j}": probs[:, j] for j in range(probs.shape[1])}}
    pq.write_table(pa.table(columns), path, row_group_size=700)
    return path


def _compare(summary, rows, expected):
    np.testing.assert_array_equal(rows["row"], np.arange(len(rows["row"])))
    np.testing.assert_array_equal(rows["is_label_issue"], expected.issue_mask)
    np.testing.assert_array_equal(rows["label_quality"], expected.label_quality.astype(np.float64))
    np.testing.assert_array_equal(rows["suggested_label"], expected.suggested_label)
    for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix", "py"):
        np.testing.assert_array_equal(getattr(summary, name), getattr(expected, name))
    assert summary.num_issues == expected.num_issues and summary.tie_rule == expected.tie_rule
    assert summary.issue_mask is None and summary.output


CASES = {
    "f32-k6": lambda: noisy_data(5000, 6, seed=7),
    "tied-k4": lambda: tied_data(3000, 4, steps=5, seed=8),
    "weak-f64-k3": lambda: noisy_data(4000, 3, signal=0.3, dtype=np.float64, seed=9),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("filter_by", outofcore.SUPPORTED)
def test_parquet_equals_in_memory(tmp_path, case, filter_by):
    labels, probs = CASES[case]()
    source = outofcore.ParquetSource(_write_parquet(tmp_path / "in.parquet", labels, probs), batch_rows=999)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = outofcore.confident_learning_summary_out_of_core(
            source, tmp_path / "out.parquet", filter_by=filter_by
        )
        expected = filter.confident_learning_summary(labels, probs, filter_by=filter_by)
    _compare(summary, pq.read_table(tmp_path / "out.parquet").to_pydict(), expected)


@pytest.mark.parametrize(("frac_noise", "min_examples"), [(0.5, 1), (1.0, 900)])
def test_pruning_options_out_of_core(tmp_path, frac_noise, min_examples):
    labels, probs = noisy_data(4000, 5, seed=10)
    path = _write_parquet(tmp_path / "in.parquet", labels, probs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = outofcore.confident_learning_summary_out_of_core(
            outofcore.ParquetSource(path, batch_rows=512),
            tmp_path / "out.parquet",
            frac_noise=frac_noise,
            min_examples_per_class=min_examples,
            filter_by="both",
        )
        expected = filter.confident_learning_summary(
            labels, probs, frac_noise=frac_noise, min_examples_per_class=min_examples, filter_by="both"
        )
    _compare(summary, pq.read_table(tmp_path / "out.parquet").to_pydict(), expected)


def test_duckdb_table_in_and_out(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    labels, probs = noisy_data(3000, 4, seed=12)
    database = tmp_path / "audit.duckdb"
    with duckdb.connect(str(database)) as con:
        frame = pa.table({"id": np.arange(3000), "label": labels, **{f"p{j}": probs[:, j] for j in range(4)}})
        con.register("frame", frame)
        con.execute("CREATE TABLE probs AS SELECT * FROM frame")
    source = outofcore.DuckDBSource(database, "probs", exclude=("id",), order_by="id", batch_rows=1000)
    summary = outofcore.confident_learning_summary_out_of_core(source, outofcore.DuckDBSink(database, "results"))
    with duckdb.connect(str(database)) as con:
        rows = con.execute("SELECT * FROM results ORDER BY row").fetchnumpy()
    _compare(summary, rows, filter.confident_learning_summary(labels, probs))


def test_renormalised_rows_warn_once_and_match(tmp_path):
    labels, probs = noisy_data(2000, 3, dtype=np.float64, seed=13)
    probs[::7] *= 1.00002
    path = _write_parquet(tmp_path / "in.parquet", labels, probs)
    with pytest.warns(ProbabilitiesRenormalisedWarning) as caught:
        summary = outofcore.confident_learning_summary_out_of_core(path, tmp_path / "out.parquet")
    assert len(caught) == 1
    with pytest.warns(ProbabilitiesRenormalisedWarning):
        expected = filter.confident_learning_summary(labels, probs)
    _compare(summary, pq.read_table(tmp_path / "out.parquet").to_pydict(), expected)


def test_bad_rows_and_labels_are_rejected(tmp_path):
    labels, probs = noisy_data(1000, 3, seed=14)
    bad = probs.copy()
    bad[777, 1] = np.nan
    with pytest.raises(InvalidPredProbsError, match="777"):
        outofcore.confident_learning_summary_out_of_core(
            _write_parquet(tmp_path / "nan.parquet", labels, bad), tmp_path / "out.parquet"
        )
    wrong = labels.copy()
    wrong[5] = 3
    with pytest.raises(InvalidLabelsError):
        outofcore.confident_learning_summary_out_of_core(
            _write_parquet(tmp_path / "lab.parquet", wrong, probs), tmp_path / "out.parquet"
        )
    with pytest.raises(ValueError, match="filter_by"):
        outofcore.confident_learning_summary_out_of_core(
            tmp_path / "lab.parquet", tmp_path / "out.parquet", filter_by="low_self_confidence"
        )
