"""Real label errors: labelaudit beside cleanlab 2.9 on the four public test sets with human-verified errors.

Usage::

    python benchmarks/bench_real_label_errors.py [--data ../shared/benchmarks/label-errors]

For each dataset and ``filter_by`` method it prints the number flagged, the confirmed errors found (recall
against ``validated_rows``) and the precision over the flagged rows that were reviewed (``checked_rows``), for
ours and for cleanlab on the same inputs, and how many rows the two masks differ on.

Input policy: rows whose sums are off by rounding (IMDB: every row sums to ~1.00002, values reach 1.00001) are
renormalised by labelaudit with a ``ProbabilitiesRenormalisedWarning``. cleanlab rejects the raw IMDB array
("Values in pred_probs must be between 0 and 1"), so it is given the same renormalised array we score.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from labelaudit.cl._engine.validation import ProbabilitiesRenormalisedWarning, validate_pred_probs
from labelaudit.cl.filter import find_label_issues

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "label-errors"
"""``../shared/benchmarks/label-errors`` relative to the repository root."""
DATASETS = ("mnist", "cifar10", "imdb", "20news")
METHODS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)


def _load(folder: Path):
    arrays = {
        name: np.load(folder / f"{name}.npy") for name in ("pred_probs", "labels", "checked_rows", "validated_rows")
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProbabilitiesRenormalisedWarning)
        fixed = validate_pred_probs(arrays["pred_probs"])
    note = "renormalised" if any(issubclass(w.category, ProbabilitiesRenormalisedWarning) for w in caught) else ""
    return arrays, fixed, note


def _cleanlab_needs(raw: np.ndarray, labels: np.ndarray) -> str:
    import cleanlab.filter

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleanlab.filter.find_label_issues(labels, raw, n_jobs=1)
    except ValueError as err:
        return f"cleanlab rejects the raw file ({err}); it gets our renormalised array"
    return ""


class _StableNumpy:
    """numpy with a stable default ``argsort``: cleanlab's selection sorts under our tie rule."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, *args, **kwargs):
        kwargs.setdefault("kind", "stable")
        return np.argsort(a, *args, **kwargs)


def _differ(ours: np.ndarray, theirs: np.ndarray, labels, probs, method) -> str:
    """Rows where the masks differ, and whether cleanlab with stable sorts agrees exactly (= only ties)."""
    import cleanlab.filter

    differing = int((ours != theirs).sum())
    if not differing:
        return "0"
    saved = cleanlab.filter.np
    cleanlab.filter.np = _StableNumpy()
    try:
        stable = cleanlab.filter.find_label_issues(labels, probs, filter_by=method, n_jobs=1)
    finally:
        cleanlab.filter.np = saved
    return f"{differing} ({'ties only' if np.array_equal(ours, stable) else 'NOT ties'})"


def _score(mask: np.ndarray, checked: np.ndarray, validated: np.ndarray) -> tuple[int, int, str]:
    flagged = np.flatnonzero(mask)
    found = np.intersect1d(flagged, validated).size
    reviewed = np.intersect1d(flagged, checked).size
    precision = f"{found / reviewed:.2f} ({found}/{reviewed})" if reviewed else "n/a"
    return len(flagged), found, precision


def run(data: Path) -> list[str]:
    import cleanlab.filter

    lines = [
        f"{'dataset':8} {'method':22} | {'ours: flagged':>13} {'found':>9} {'precision(reviewed)':>20} | "
        f"{'cleanlab: flagged':>17} {'found':>9} {'precision(reviewed)':>20} | {'rows differ':>15}"
    ]
    for name in DATASETS:
        if not (data / name).exists():
            lines.append(f"{name:8} missing under {data}")
            continue
        arrays, probs, note = _load(data / name)
        labels, checked, validated = arrays["labels"], arrays["checked_rows"], arrays["validated_rows"]
        extra = _cleanlab_needs(arrays["pred_probs"], labels) if note else ""
        if note:
            lines.append(f"{name}: {len(labels):,} rows {note} by labelaudit; {extra}")
        for method in METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = find_label_issues(labels, probs, filter_by=method)
                theirs = cleanlab.filter.find_label_issues(labels, probs, filter_by=method, n_jobs=1)
                differ = _differ(ours, theirs, labels, probs, method)
            o, c = _score(ours, checked, validated), _score(theirs, checked, validated)
            total = validated.size
            lines.append(
                f"{name:8} {method:22} | {o[0]:13,} {f'{o[1]}/{total}':>9} {o[2]:>20} | "
                f"{c[0]:17,} {f'{c[1]}/{total}':>9} {c[2]:>20} | {differ:>15}"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding mnist/, cifar10/, ...")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.exit(
            0,
            f"skipped: no label-error data at {args.data} (the shared folder ../shared/ beside the repository "
            "root, or pass --data)\n",
        )
    print("\n".join(run(args.data)))


if __name__ == "__main__":
    main()
