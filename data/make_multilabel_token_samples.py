"""Build the bundled multi-label (tags) and token-labelled (NER) samples, with known injected label errors.

Both are generated, deterministically (fixed seeds), so re-running ``python data/make_multilabel_token_samples.py``
rebuilds the same files. Needs only numpy, pandas and scikit-learn.

Tags: ``data/tags/``
    1,200 "documents" from ``sklearn.datasets.make_multilabel_classification`` (its generative model: each
    document draws its topics and 2,000 words from the topics' word distributions; the 40 word counts are
    the numeric features ``w00``..``w39``). The 6 topics are named ``arts business health politics science sports``.
    ``tags.csv`` has ``doc_id``, the features and ``tags`` (``|``-separated topic names, empty for none).
    Errors: in 8 % of the rows one tag is changed: either a true topic is dropped (``missing``) or a topic the
    document does not have is added (``extra``), half and half. ``tags.injected.csv`` lists
    ``doc_id, row, tag, kind`` (``row`` is the 0-based data row).

NER: ``data/ner/``
    800 sentences from 24 templates filled with person, organisation and location names drawn from fixed lists
    (multi-token names included), BIO-tagged with ``O B-PER I-PER B-ORG I-ORG B-LOC I-LOC``.
    ``ner.csv`` has ``sentence_id``, ``tokens`` (a JSON list) and ``labels`` (space-separated tags).
    Errors: 5 % of the entity mentions get a wrong type for all their tokens (e.g. ``B-ORG I-ORG`` for a
    person), and 1.5 % of sentences get one ``O`` token tagged as an entity start. ``ner.injected.csv`` lists every
    changed token: ``sentence_id, sentence, token, text, given, true`` (``sentence`` and ``token`` 0-based).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_multilabel_classification

DATA = Path(__file__).resolve().parent
TOPICS = ["arts", "business", "health", "politics", "science", "sports"]
TAG_ERROR_RATE = 0.08
NER_CLASSES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
MENTION_ERROR_RATE = 0.05
SPURIOUS_RATE = 0.015

PEOPLE = [
    "Maria Lopez",
    "John Smith",
    "Aiko Tanaka",
    "Pierre Dubois",
    "Olga",
    "Ahmed Khan",
    "Li Wei",
    "Sarah Connor",
    "Kwame Mensah",
    "Anna Berg",
    "Carlos",
    "Priya Nair",
    "Tom Baker",
    "Elena Rossi",
]
ORGS = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Red Cross",
    "United Nations",
    "Apple",
    "Siemens",
    "Oxfam",
    "Nordic Bank",
    "Blue River Labs",
    "FIFA",
    "Tata Steel",
]
PLACES = [
    "Paris",
    "New York",
    "Tokyo",
    "Lagos",
    "Berlin",
    "Lima",
    "Cape Town",
    "Oslo",
    "Mumbai",
    "Rio de Janeiro",
    "Cairo",
    "Seoul",
    "Toronto",
]
TEMPLATES = [
    "{PER} works for {ORG} in {LOC} .",
    "{PER} visited {LOC} last week .",
    "{ORG} opened an office in {LOC} .",
    "Yesterday {PER} met {PER} at {ORG} .",
    "{PER} was born in {LOC} .",
    "{ORG} hired {PER} as director .",
    "The meeting in {LOC} was chaired by {PER} .",
    "{PER} left {ORG} after ten years .",
    "Shares of {ORG} rose in {LOC} on Monday .",
    "{PER} and {PER} travelled to {LOC} .",
    "{ORG} signed a deal with {ORG} .",
    "A spokesperson for {ORG} said the plan is on track .",
    "{PER} moved from {LOC} to {LOC} .",
    "Protests continued in {LOC} today .",
    "According to {PER} , {ORG} will expand .",
    "{LOC} hosts the summit this year .",
    "{PER} said the results were good .",
    "The report by {ORG} criticised {ORG} .",
    "Flights between {LOC} and {LOC} were cancelled .",
    "{PER} joined {ORG} in {LOC} .",
    "It rained all day in {LOC} .",
    "{ORG} announced record profits .",
    "Nobody expected {PER} to win .",
    "We thanked {PER} for the help .",
]
SLOTS = {"PER": PEOPLE, "ORG": ORGS, "LOC": PLACES}


def make_tags(*, rows: int = 1200, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tags sample and its list of injected errors (see the module docstring)."""
    features, truth = make_multilabel_classification(
        n_samples=rows,
        n_features=40,
        n_classes=len(TOPICS),
        n_labels=2,
        length=2000,
        allow_unlabeled=True,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    given = truth.copy()
    changed = np.sort(rng.choice(rows, size=round(TAG_ERROR_RATE * rows), replace=False))
    injected = []
    for n, row in enumerate(changed):
        present, absent = np.flatnonzero(given[row]), np.flatnonzero(given[row] == 0)
        kind = "missing" if (n % 2 == 0 and len(present)) or not len(absent) else "extra"
        tag = rng.choice(present if kind == "missing" else absent)
        given[row, tag] = 0 if kind == "missing" else 1
        injected.append((f"D{row:05d}", int(row), TOPICS[tag], kind))
    frame = pd.DataFrame(features.astype(int), columns=[f"w{i:02d}" for i in range(features.shape[1])])
    frame.insert(0, "doc_id", [f"D{i:05d}" for i in range(rows)])
    frame["tags"] = ["|".join(TOPICS[k] for k in np.flatnonzero(r)) for r in given]
    return frame, pd.DataFrame(injected, columns=["doc_id", "row", "tag", "kind"])


def _fill(template: str, rng: np.random.Generator) -> tuple[list[str], list[str], list[tuple[int, int, str]]]:
    """Tokens, BIO tags and entity spans (start, stop, type) of one filled template."""
    tokens, tags, spans = [], [], []
    for word in template.split():
        if word.startswith("{"):
            kind = word[1:-1]
            name = SLOTS[kind][rng.integers(len(SLOTS[kind]))].split()
            spans.append((len(tokens), len(tokens) + len(name), kind))
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
            tokens += name
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags, spans


def make_ner(*, sentences: int = 800, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The NER sample and its list of injected token errors (see the module docstring)."""
    rng = np.random.default_rng(seed)
    rows, injected = [], []
    for s in range(sentences):
        tokens, tags, spans = _fill(TEMPLATES[rng.integers(len(TEMPLATES))], rng)
        given = list(tags)
        for start, stop, kind in spans:
            if rng.random() < MENTION_ERROR_RATE:
                wrong = rng.choice([k for k in SLOTS if k != kind])
                given[start:stop] = [f"B-{wrong}"] + [f"I-{wrong}"] * (stop - start - 1)
        outside = [j for j, tag in enumerate(tags) if tag == "O" and tokens[j].isalpha()]
        if outside and rng.random() < SPURIOUS_RATE:
            j = outside[rng.integers(len(outside))]
            given[j] = f"B-{rng.choice(list(SLOTS))}"
        sentence_id = f"S{s:04d}"
        injected += [(sentence_id, s, j, tokens[j], given[j], tags[j]) for j in range(len(tags)) if given[j] != tags[j]]
        rows.append((sentence_id, json.dumps(tokens, ensure_ascii=False), " ".join(given)))
    frame = pd.DataFrame(rows, columns=["sentence_id", "tokens", "labels"])
    return frame, pd.DataFrame(injected, columns=["sentence_id", "sentence", "token", "text", "given", "true"])


def main() -> None:
    for folder, name, (frame, injected) in (("tags", "tags", make_tags()), ("ner", "ner", make_ner())):
        (DATA / folder).mkdir(exist_ok=True)
        frame.to_csv(DATA / folder / f"{name}.csv", index=False)
        injected.to_csv(DATA / folder / f"{name}.injected.csv", index=False)
        print(f"{folder}/{name}.csv: {len(frame)} rows, {len(injected)} injected errors")


if __name__ == "__main__":
    main()
