"""Label kinds: one object per ``label_type`` of ``dataset.json``, behind one interface, chosen from one table.

>>> from labelaudit.kinds import kind_for
>>> kind_for("token").unit
'sentences'

The audit flow and its tasks call :func:`kind_for` and the methods of :class:`~labelaudit.kinds.base.LabelKind`;
they never branch on the label type. A new kind is one module implementing the interface plus its entry in
:data:`KINDS` (a test checks every ``label_type`` the definition accepts has one).
"""

from __future__ import annotations

from labelaudit.errors import DefinitionError
from labelaudit.kinds.base import FitInputsLike, LabelKind
from labelaudit.kinds.multiclass import MulticlassKind
from labelaudit.kinds.multilabel import MultilabelKind
from labelaudit.kinds.token import TokenKind

__all__ = ["KINDS", "FitInputsLike", "LabelKind", "kind_for"]

#: The registry: ``label_type`` → its kind. Kinds hold no state, so one instance each serves every run.
KINDS: dict[str, LabelKind] = {kind.label_type: kind for kind in (MulticlassKind(), MultilabelKind(), TokenKind())}


def kind_for(label_type: str) -> LabelKind:
    """The kind serving ``label_type``; an unknown type is a definition error naming the known ones."""
    try:
        return KINDS[label_type]
    except KeyError:
        raise DefinitionError(f"unknown label_type {label_type!r}; known: {', '.join(KINDS)}") from None
