"""Build ``data/penguins/penguins_week2.csv``: a second penguins batch, audited after ``penguins_batch.csv``, that
carries one of each data issue (issue 14; ``data/README.md`` lists the rows).

Palmer Penguins has no second season, so week 2's ordinary rows are new penguins made from ``penguins_clean.csv``
(a source penguin's measurements moved by a little noise, rounded as the originals are; the species, island, sex
and year of the source; ids ``W0001``...), drawn so that Gentoo dominate (a shifted class mix: label drift).
Then these rows are appended, each listed in ``penguins_week2.injected.csv`` (``penguin_id, issue, detail``):

- exact duplicates: three rows repeated under new ids, same label;
- a conflicting duplicate: a row repeated under a new id with another species;
- near duplicates: two rows repeated with body mass 1 g heavier;
- an outlier: a mis-keyed row, every measurement far beyond any penguin's (bill 96 mm, body mass 14.5 kg);
- leakage: eight rows of ``penguins_batch.csv`` sent again, ids and labels as they were.

Re-run ``python data/make_week2_sample.py`` to rebuild both files identically (numpy's seeded generator only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "penguins"
SEED = 14
#: New penguins per species: week 1 is about 44 % Adelie, 20 % Chinstrap, 36 % Gentoo.
MIX = {"Adelie": 30, "Chinstrap": 14, "Gentoo": 66}
#: Standard deviation of the noise added to each measurement, and the rounding of the originals.
NOISE = {"bill_length_mm": (1.0, 1), "bill_depth_mm": (0.4, 1), "flipper_length_mm": (3.0, 0), "body_mass_g": (150, -1)}
LEAKED = ["P0012", "P0057", "P0101", "P0150", "P0188", "P0230", "P0277", "P0321"]


def new_penguins(clean: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """New penguins drawn from complete source rows of each species (no source used twice), with noise."""
    complete = clean.dropna()
    picked = [complete[complete["species"] == s].sample(n, random_state=rng) for s, n in MIX.items()]
    frame = pd.concat(picked).sample(frac=1, random_state=rng).reset_index(drop=True)
    for column, (sd, digits) in NOISE.items():
        moved = frame[column] + rng.normal(0, sd, len(frame))
        frame[column] = moved.round(digits) if digits >= 0 else (moved / 25).round() * 25
    frame["penguin_id"] = [f"W{i:04d}" for i in range(1, len(frame) + 1)]
    return frame


def injected_rows(week: pd.DataFrame, batch: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """The rows carrying the injected issues, and what each is (``penguin_id, issue, detail``)."""
    rows, notes = [], []
    next_id = len(week) + 1

    def copy(source: pd.Series, issue: str, detail: str, **changes: object) -> None:
        nonlocal next_id
        row = source.copy()
        row["penguin_id"] = f"W{next_id:04d}"
        next_id += 1
        for column, value in changes.items():
            row[column] = value
        rows.append(row)
        notes.append((row["penguin_id"], issue, detail))

    for i in (3, 17, 42):
        copy(week.iloc[i], "exact_duplicate", f"copy of {week.iloc[i]['penguin_id']}")
    source = week.iloc[8]
    other = "Adelie" if source["species"] != "Adelie" else "Chinstrap"
    copy(source, "conflicting_duplicate", f"copy of {source['penguin_id']} labelled {other}", species=other)
    for i in (25, 60):
        near = week.iloc[i]
        detail = f"{near['penguin_id']} with body mass 1 g heavier"
        copy(near, "near_duplicate", detail, body_mass_g=near["body_mass_g"] + 1)
    gentoo = week[week["species"] == "Gentoo"].iloc[0]
    far = {"bill_length_mm": 96.0, "bill_depth_mm": 4.0, "flipper_length_mm": 330.0, "body_mass_g": 14500.0}
    copy(gentoo, "outlier", "mis-keyed: every measurement far beyond any penguin's", **far)
    leaked = batch.set_index("penguin_id").loc[LEAKED].reset_index()
    for _, row in leaked.iterrows():
        rows.append(row)
        notes.append((row["penguin_id"], "leaked_duplicate", "row of penguins_batch.csv sent again"))
    return pd.DataFrame(rows), notes


def main() -> None:
    rng = np.random.default_rng(SEED)
    clean = pd.read_csv(OUT / "penguins_clean.csv", dtype={"penguin_id": str})
    batch = pd.read_csv(OUT / "penguins_batch.csv", dtype={"penguin_id": str})
    week = new_penguins(clean, rng)
    extra, notes = injected_rows(week, batch)
    frame = pd.concat([week, extra], ignore_index=True)[list(clean.columns)]
    frame["flipper_length_mm"] = frame["flipper_length_mm"].astype(float)
    frame.to_csv(OUT / "penguins_week2.csv", index=False)
    pd.DataFrame(notes, columns=["penguin_id", "issue", "detail"]).to_csv(
        OUT / "penguins_week2.injected.csv", index=False
    )
    print(f"penguins_week2: {len(frame)} rows, {len(notes)} carrying an injected issue")


if __name__ == "__main__":
    main()
