"""Stage ``labelers`` (after scoring, with ``--annotations`` only): who gave the labels, and how well.

CROWDLAB consensus, consensus quality and annotator quality from the out-of-fold probabilities, then the
labeler profiles and routing of :func:`labelaudit.pipeline.labeler_profiles.profile_labelers` (the maths),
stored per run in ``item_consensus`` and the ``labeler_*`` tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import AnnotationsSpec
from labelaudit.pipeline.labeler_profiles import LabelerProfiles, profile_labelers
from labelaudit.pipeline.labels import LabelInputs
from labelaudit.pipeline.recording import recording
from labelaudit.store import AuditStore, StageWrite

__all__ = ["profile_run_labelers", "profile_tables"]


def profile_run_labelers(
    store: AuditStore,
    run_id: str,
    inputs: LabelInputs,
    probs: np.ndarray,
    classes: list[str],
    *,
    min_volume: int = 5,
) -> LabelerProfiles | None:
    """CROWDLAB consensus and labeler profiles from the out-of-fold probabilities; stored as the ``labelers``
    stage. Returns None (and stores nothing) without annotations."""
    if inputs.annotations is None:
        return None
    with recording(store, run_id, "labelers") as started:
        spec = inputs.bundle.definition.annotations or AnnotationsSpec()
        profiles = profile_labelers(
            inputs.annotations,
            probs,
            item_ids=inputs.batch.row_ids.astype(str).tolist(),
            classes=classes,
            id_column="item_id",
            annotator_column="annotator_id",
            label_column="label",
            timestamp_column="timestamp" if spec.timestamp_column else None,
            min_volume=min_volume,
        )
        tables = profile_tables(profiles)
        best = profiles.annotators.iloc[0]
        message = (
            f"{len(profiles.items)} items, {len(profiles.annotators)} annotators; CROWDLAB consensus differs "
            f"from the majority vote on {int((~profiles.items['consensus_is_majority']).sum())} items; "
            f"best annotator {best['annotator']} (quality {best['crowdlab_quality']:.3f})"
        )
        store.write_stage(run_id, "labelers", StageWrite(tables, started, rows=len(profiles.items), message=message))
    return profiles


def profile_tables(profiles: LabelerProfiles) -> dict[str, pd.DataFrame]:
    """The profiles in the stored tables' columns."""
    items = profiles.items.rename(
        columns={
            "majority_label": "majority_vote",
            "consensus_quality_score": "consensus_quality",
            "consensus_agreement": "annotator_agreement",
        }
    ).assign(item_id=lambda f: f["item_id"].astype(str), num_annotations=lambda f: f["num_annotations"].astype("int32"))
    annotators = profiles.annotators.rename(columns={"annotator": "annotator_id", "crowdlab_quality": "quality"})
    annotators = annotators.assign(annotator_id=annotators["annotator_id"].astype(str))
    annotators.insert(1, "rank", np.arange(1, len(annotators) + 1, dtype=np.int32))
    classes = profiles.annotator_classes.rename(columns={"annotator": "annotator_id", "class": "label"})
    classes = classes.assign(annotator_id=classes["annotator_id"].astype(str))
    confusions = profiles.confusions.rename(
        columns={"annotator": "annotator_id", "given": "given_label", "consensus": "consensus_label"}
    )
    confusions = confusions.assign(annotator_id=confusions["annotator_id"].astype(str))
    routing = profiles.routing.rename(columns={"annotator": "annotator_id", "class": "label"})
    routing = routing.assign(annotator_id=routing["annotator_id"].astype(str))
    return {
        "item_consensus": items,
        "labeler_profiles": annotators,
        "labeler_class_profiles": classes,
        "labeler_confusions": confusions,
        "labeler_routing": routing,
    }
