"""Detection quality: which probabilities and which second opinion find injected label errors best (issue 15).

Usage::

    python benchmarks/bench_detection.py --quick            # 10 % noise only, four small sets, one seed
    python benchmarks/bench_detection.py --seeds 3          # every set, 5/10/20 % uniform and class-conditional
    python benchmarks/bench_detection.py --sets iris,wine --seeds 5 --csv a.csv   # a slice; --from-csv joins them
    python benchmarks/bench_detection.py --probe ...        # also choosing by labels flipped on purpose

For each data set with features (scikit-learn's iris, wine, breast cancer and digits; the bundled penguins
sample; two generated sets, one linear and one with a non-linear boundary) and each injected noise (rate x
uniform or class-conditional), it fits ``"classifier": "auto"`` once over 5 folds (its candidates are built by
the same factories as the fixed classifiers, so each candidate's probabilities *are* that fixed classifier's:
``tests/models/test_selection.py`` checks it) and scores with confident learning (default
``prune_by_noise_rate``; ranking by self-confidence):

- each fixed classifier, ``auto`` (which may use the mean of its close candidates), ``auto`` under every
  criterion of ``selection.CRITERIA`` and by accuracy without the mean, and, measured only, the mean of the two
  best candidates by Brier, the mean of all three, and with ``--probe`` the candidate that best finds labels
  flipped on purpose, by its flags or its ranking (``detection_probe.py``);
- the neighbour score alone (k = 10 in the standardised feature space, SimiFeat's vote) and the flag rules
  ``both`` and ``rank`` over auto's probabilities;
- cleanlab 2.9's ``find_label_issues`` on auto's probabilities (the baseline: it should match ours).

It prints precision and recall of the flags and the area under the precision-recall curve of the ranking
(average precision), medians over seeds, then the issue's two goals and, run by run, each way of choosing
against accuracy without the mean (F1 of the flags). The published probabilities of
``../shared/benchmarks/label-errors/`` (no features, real human-verified errors) get confident learning, cleanlab
and the neighbour score in probability space, scored as that folder's README says.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # folds run one after another here; avoid oversubscription

import numpy as np
import pandas as pd
from detection_probe import candidate_probe_scores
from sklearn.metrics import average_precision_score
from sklearn.neighbors import NearestNeighbors

from labelaudit.cl.filter import find_label_issues
from labelaudit.cl.rank import get_label_quality_scores
from labelaudit.inputs.definition import DatasetDefinition, Feature
from labelaudit.models.crossval import build_pipeline, fit_fold, plan_folds
from labelaudit.models.neighbour_score import combine_flags, knn_disagrees, knn_label_agreement
from labelaudit.models.selection import CRITERIA, MEAN, choose, fold_figures, resolve

REPO_ROOT = Path(__file__).resolve().parents[1]
LABEL_ERRORS = REPO_ROOT.parent / "shared" / "benchmarks" / "label-errors"
FIXED = ("logistic_regression", "hist_gradient_boosting", "random_forest")
K = 10
CODES = {
    "logistic_regression": "LR",
    "hist_gradient_boosting": "HGB",
    "random_forest": "RF",
    MEAN: "MEAN",
    "mean_all": "MEAN3",
}


def _sklearn_set(loader) -> tuple[pd.DataFrame, list[Feature], np.ndarray]:
    x, y = loader(return_X_y=True)
    columns = [f"f{i}" for i in range(x.shape[1])]
    return pd.DataFrame(x, columns=columns), [Feature(name=c, role="numeric") for c in columns], y


def _penguins() -> tuple[pd.DataFrame, list[Feature], np.ndarray]:
    frame = pd.read_csv(REPO_ROOT / "data" / "penguins" / "penguins_clean.csv").dropna(subset=["species"])
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    features = [Feature(name=c, role="numeric") for c in numeric]
    features += [Feature(name=c, role="categorical") for c in ("island", "sex")]
    y = pd.Categorical(frame["species"]).codes.astype(np.int64)
    return frame[[f.name for f in features]].reset_index(drop=True), features, y


def _synthetic(kind: str, rows: int) -> tuple[pd.DataFrame, list[Feature], np.ndarray]:
    from sklearn.datasets import make_classification

    if kind == "linear":  # as benchmarks/synthetic.py: logistic regression reaches about 98 % on clean labels
        x, y = make_classification(
            rows, 20, n_informative=10, n_redundant=4, n_classes=3, n_clusters_per_class=1, class_sep=2.0,
            random_state=0,
        )  # fmt: skip
    else:  # a non-linear boundary: three classes on separated spherical shells, plus three noise features
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, size=rows)
        direction = rng.normal(size=(rows, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = 0.5 + y + rng.uniform(0, 0.5, size=rows)
        x = np.hstack([direction * radius[:, None], rng.normal(size=(rows, 3))])
    columns = [f"f{i}" for i in range(x.shape[1])]
    return pd.DataFrame(x, columns=columns), [Feature(name=c, role="numeric") for c in columns], y.astype(np.int64)


def datasets(quick: bool) -> dict[str, tuple[pd.DataFrame, list[Feature], np.ndarray]]:
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    sets = {
        "iris": _sklearn_set(load_iris),
        "wine": _sklearn_set(load_wine),
        "breast_cancer": _sklearn_set(load_breast_cancer),
        "penguins": _penguins(),
        "synthetic_linear": _synthetic("linear", 1000 if quick else 2000),
        "synthetic_shells": _synthetic("shells", 1000 if quick else 2000),
    }
    if not quick:
        sets["digits"] = _sklearn_set(load_digits)
    else:
        sets = {k: sets[k] for k in ("wine", "breast_cancer", "synthetic_linear", "synthetic_shells")}
    return sets


def inject(y: np.ndarray, rate: float, kind: str, seed: int) -> np.ndarray:
    """Given labels with ``rate`` of them flipped: uniformly to any other class, or class-conditionally
    (class c flips to c+1 only, at a rate growing with c, averaging ``rate``)."""
    rng = np.random.default_rng(seed)
    k = int(y.max()) + 1
    noisy = y.copy()
    if kind == "uniform":
        flip = rng.random(len(y)) < rate
        noisy[flip] = (y[flip] + rng.integers(1, k, size=flip.sum())) % k
    else:
        per_class = rate * 2 * (np.arange(k) + 1) / (k + 1)
        flip = rng.random(len(y)) < per_class[y]
        noisy[flip] = (y[flip] + 1) % k
    return noisy


def _fit_auto(frame, features, labels, k, *, probe: bool) -> tuple[dict[str, np.ndarray], str]:
    definition = DatasetDefinition(name="b", label_column="label", features=features, model={"classifier": "auto"})
    classes = [str(i) for i in range(k)]
    plan = plan_folds(labels, classes, folds=5, seed=0)
    results = [fit_fold(frame, labels, k, plan, f, definition) for f in range(plan.n_folds)]
    _, selection = resolve(results)
    probs = {}
    for name in FIXED:
        p = np.zeros((len(labels), k))
        for r in results:
            p[r.test_rows] = r.candidates.probs[name]
        probs[name] = p
    figures, members = fold_figures(results)
    if members:
        probs[MEAN] = np.mean([probs[n] for n in members], axis=0)
    probs["auto"] = probs[selection.chosen]
    # every selection criterion on the same candidates and mean (cheap: the fits are shared), and accuracy
    # among the candidates alone (auto before it compared the mean)
    chosen = {criterion: choose(figures, criterion) for criterion in CRITERIA}
    chosen["accuracy, no mean"] = choose({n: f for n, f in figures.items() if n != MEAN}, "accuracy")
    for criterion, name in chosen.items():
        probs[f"auto[{criterion}]"] = probs[name]
    best2 = sorted(FIXED, key=lambda n: figures[n]["brier"])[:2]
    probs["mean_best2"] = (probs[best2[0]] + probs[best2[1]]) / 2
    probs["mean_all"] = sum(probs[name] for name in FIXED) / len(FIXED)
    if probe:  # measured only: the candidate that best finds labels flipped on purpose, by its flags or ranking
        found = candidate_probe_scores(frame, labels, k, plan, definition)
        for criterion, key in (("injected_errors", "f1"), ("injected_errors_ranked", "ap")):
            # ties as auto breaks them: accuracy, then log-loss, then the simpler model
            best = min(found, key=lambda n: (-found[n][key], -figures[n]["accuracy"], figures[n]["log_loss"]))
            chosen[criterion] = best
            probs[f"auto[{criterion}]"] = probs[best]
    label = ",".join(f"{c}={CODES[n]}" for c, n in chosen.items())
    return probs, label


def _neighbours(frame, features) -> np.ndarray:
    definition = DatasetDefinition(name="b", label_column="label", features=features)
    space = build_pipeline(definition).named_steps["features"].fit_transform(frame)
    space = space.toarray() if hasattr(space, "toarray") else space
    _, found = NearestNeighbors(n_neighbors=K + 1).fit(space).kneighbors(space)
    return _drop_self(found)


def _drop_self(found: np.ndarray) -> np.ndarray:
    # a row is usually its own first neighbour, but duplicates can come first: drop the row wherever it is
    rows = np.arange(len(found))[:, None]
    keep = found != rows
    keep[keep.sum(axis=1) > K, -1] = False  # the row was not among them: drop the farthest instead
    return found[keep].reshape(len(found), K)


def _figures(flags: np.ndarray, scores: np.ndarray, errors: np.ndarray) -> tuple[float, float, float]:
    tp = (flags & errors).sum()
    precision = tp / flags.sum() if flags.sum() else 0.0
    recall = tp / errors.sum() if errors.sum() else 0.0
    return float(precision), float(recall), float(average_precision_score(errors, -scores))


def evaluate(frame, features, truth, rate, kind, seed, *, probe: bool = False) -> list[dict]:
    import cleanlab.filter

    k = int(truth.max()) + 1
    labels = inject(truth, rate, kind, seed)
    errors = labels != truth
    started = time.perf_counter()
    probs, chosen = _fit_auto(frame, features, labels, k, probe=probe)
    seconds = time.perf_counter() - started
    out = []
    for name, p in probs.items():
        flags = find_label_issues(labels, p)
        out.append((name, _figures(flags, get_label_quality_scores(labels, p), errors)))
    auto_flags = find_label_issues(labels, probs["auto"])
    auto_scores = get_label_quality_scores(labels, probs["auto"])
    neighbours = _neighbours(frame, features)
    knn_flags = knn_disagrees(labels, neighbours, k)
    knn_scores = knn_label_agreement(labels, neighbours, k)
    out.append(("knn", _figures(knn_flags, knn_scores, errors)))
    for rule in ("both", "rank"):
        combined = combine_flags(auto_flags, auto_scores, knn_flags, knn_scores, rule=rule)
        out.append((f"auto+knn:{rule}", _figures(combined.flags, combined.scores, errors)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cleanlab.filter.find_label_issues(labels, probs["auto"], n_jobs=1)
    out.append(("cleanlab(auto probs)", _figures(theirs, auto_scores, errors)))
    return [
        {"method": m, "precision": p, "recall": r, "auprc": a, "chosen": chosen, "fit_s": seconds}
        for m, (p, r, a) in out
    ]


def run_feature_sets(
    quick: bool, seeds: int, *, start_seed: int = 0, only: list[str] | None = None, probe: bool = False
) -> pd.DataFrame:
    rates = (0.10,) if quick else (0.05, 0.10, 0.20)
    rows = []
    for name, (frame, features, truth) in datasets(quick).items():
        if only and name not in only:
            continue
        for rate in rates:
            for kind in ("uniform", "class_conditional"):
                for seed in range(start_seed, start_seed + seeds):
                    for row in evaluate(frame, features, truth, rate, kind, seed, probe=probe):
                        rows.append({"set": name, "noise": f"{kind} {int(rate * 100)}%", "seed": seed, **row})
                print(f"  {name} {kind} {rate:.0%} done", flush=True)
    return pd.DataFrame(rows)


def report_goals(table: pd.DataFrame) -> None:
    med = table.groupby(["set", "noise", "method"], sort=False)[["precision", "recall", "auprc"]].median()
    print("\nMedians over seeds (precision / recall / AUPRC of the ranking):")
    wide = med.apply(lambda r: f"{r.precision:.2f}/{r.recall:.2f}/{r.auprc:.2f}", axis=1).unstack("method")
    print(wide.to_string())
    chosen = table.groupby(["set", "noise"], sort=False)["chosen"].agg(lambda s: ",".join(sorted(set(s))))
    print("\nauto chose:\n" + chosen.to_string())
    print("\nGoal 1: auto within 0.02 of the best fixed classifier in precision and recall")
    print("  strict: each metric against the best fixed value of that metric (may be two different models);")
    print("  by F1: both metrics against the one fixed classifier with the best F1 of its flags")
    autos = [m for m in med.index.get_level_values("method").unique() if m.startswith("auto") and "knn" not in m]
    autos += ["mean_best2", "mean_all"]
    for method in autos:
        strict, by_f1, cells, worst = 0, 0, 0, 0.0
        for (name, noise), group in med.groupby(level=["set", "noise"], sort=False):
            g = group.droplevel(["set", "noise"])
            f1 = 2 * g.precision * g.recall / (g.precision + g.recall).where(lambda v: v > 0, 1)
            best_model = f1.loc[list(FIXED)].idxmax()
            for metric in ("precision", "recall"):
                cells += 1
                gap = g.loc[list(FIXED), metric].max() - g.loc[method, metric]
                worst = max(worst, gap)
                strict += gap > 0.02
                if g.loc[best_model, metric] - g.loc[method, metric] > 0.02:
                    by_f1 += 1
                    if method == "auto":
                        print(f"  MISS {name} {noise}: {metric} auto {g.loc[method, metric]:.3f} "
                              f"vs {best_model} {g.loc[best_model, metric]:.3f}")  # fmt: skip
        print(f"  {method:24s} misses strict {strict}/{cells}, by F1 {by_f1}/{cells}, worst strict gap {worst:.2f}")
    _paired_f1(table, autos)
    print("\nGoal 2: a combination reaches precision >= 0.9 at recall >= 0.85 on the synthetic 10 % sets")
    for (name, noise), group in med.groupby(level=["set", "noise"], sort=False):
        if name.startswith("synthetic") and "10%" in noise:
            g = group.droplevel(["set", "noise"])
            for method in ("auto", "auto+knn:both", "auto+knn:rank"):
                p, r = g.loc[method, "precision"], g.loc[method, "recall"]
                mark = "met" if p >= 0.9 and r >= 0.85 else "not met"
                print(f"  {name} {noise} {method}: P {p:.3f} R {r:.3f} ({mark})")


def _paired_f1(table: pd.DataFrame, methods: list[str], baseline: str = "auto[accuracy, no mean]") -> None:
    """Run by run (same set, noise and draw), each method's F1 of its flags against the baseline's: the mean
    difference with a bootstrap 95 % interval, and in how many runs it found more or fewer errors. Steadier
    than counting cells of medians, where one row of a small set moves precision by 0.1."""
    if baseline not in set(table["method"]):
        return
    f1 = 2 * table.precision * table.recall / (table.precision + table.recall).where(lambda v: v > 0, 1)
    wide = table.assign(f1=f1).pivot_table(index=["set", "noise", "seed"], columns="method", values="f1")
    rng = np.random.default_rng(0)
    print(f"\nF1 of the flags run by run against {baseline} ({len(wide)} runs):")
    for method in methods:
        d = (wide[method] - wide[baseline]).to_numpy()
        boot = [rng.choice(d, len(d)).mean() for _ in range(2000)]
        low, high = np.percentile(boot, [2.5, 97.5])
        more, fewer = (d > 0).sum(), (d < 0).sum()
        print(f"  {method:28s} {d.mean():+.4f} [{low:+.4f}, {high:+.4f}]  more in {more}, fewer in {fewer}")


def run_label_errors(folder: Path) -> None:
    import cleanlab.filter

    from labelaudit.cl._engine.validation import validate_pred_probs

    print("\nReal label errors (probabilities only; recall vs validated, precision over reviewed flags):")
    for name in ("mnist", "cifar10", "imdb", "20news"):
        if not (folder / name).is_dir():
            print(f"  {name}: not found under {folder}")
            continue
        a = {n: np.load(folder / name / f"{n}.npy") for n in ("pred_probs", "labels", "checked_rows", "validated_rows")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs = validate_pred_probs(a["pred_probs"])
            theirs = cleanlab.filter.find_label_issues(a["labels"], probs, n_jobs=1)
        labels, k = a["labels"], probs.shape[1]
        _, found = NearestNeighbors(n_neighbors=K + 1).fit(probs).kneighbors(probs)
        neighbours = _drop_self(found)
        cl = find_label_issues(labels, probs)
        knn = knn_disagrees(labels, neighbours, k)
        both = combine_flags(
            cl, get_label_quality_scores(labels, probs), knn, knn_label_agreement(labels, neighbours, k), rule="both"
        ).flags
        for method, flags in (("ours", cl), ("cleanlab", theirs), ("knn(prob space)", knn), ("both", both)):
            checked = np.isin(np.flatnonzero(flags), a["checked_rows"])
            hits = np.isin(a["validated_rows"], np.flatnonzero(flags)).sum()
            prec = (
                np.isin(np.flatnonzero(flags)[checked], a["validated_rows"]).mean() if checked.any() else float("nan")
            )
            found = f"{hits}/{len(a['validated_rows'])}"
            print(f"  {name:8s} {method:16s} flagged {flags.sum():5d}  found {found:8s} precision(reviewed) {prec:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=1, help="noise draws per setting (medians are reported)")
    parser.add_argument("--start-seed", type=int, default=0, help="first noise draw (to run a slice of seeds)")
    parser.add_argument("--sets", help="comma-separated data sets to run (default: all); e.g. iris,digits")
    parser.add_argument(
        "--probe", action="store_true", help="also measure choosing by injected errors (2-4x the fitting)"
    )
    parser.add_argument("--from-csv", type=Path, nargs="+", help="report on the figures of earlier --csv runs")
    parser.add_argument("--label-errors", type=Path, default=LABEL_ERRORS)
    parser.add_argument("--csv", type=Path, help="also write every figure to this CSV")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    if args.from_csv:
        table = pd.concat([pd.read_csv(path) for path in args.from_csv], ignore_index=True)
    else:
        only = args.sets.split(",") if args.sets else None
        table = run_feature_sets(args.quick, args.seeds, start_seed=args.start_seed, only=only, probe=args.probe)
    if args.csv:
        table.to_csv(args.csv, index=False)
    report_goals(table)
    run_label_errors(args.label_errors)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
