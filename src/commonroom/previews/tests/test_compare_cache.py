"""A comparison is computed once per pair of previews and kept; a preview made again is a new
pair (its made_at changes), so a remade preview is compared afresh."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from commonroom.documents.selectors import document_access
from commonroom.previews import selectors
from commonroom.previews.models import Preview
from commonroom.previews.selectors import compare_pair, versions_compare
from commonroom.previews.tests.test_compare import two_versions

pytestmark = pytest.mark.django_db


def test_computed_once_and_again_after_a_remake(
    team: Any, django_capture_on_commit_callbacks: Any, make_upload: Any, monkeypatch: Any
) -> None:
    doc = two_versions(
        team, django_capture_on_commit_callbacks, make_upload, "n.txt", b"Beds 24", b"Beds 26"
    )
    access = document_access(user=team.viewer, workspace_id=team.workspace.pk, document_id=doc.pk)
    pair = compare_pair(doc_access=access)
    assert pair is not None
    old, new = pair
    runs: list[int] = []
    real = selectors._compare

    def counted(before: Any, after: Any) -> Any:
        runs.append(1)
        return real(before, after)

    monkeypatch.setattr(selectors, "_compare", counted)
    first = versions_compare(doc_access=access, old=old, new=new)
    again = versions_compare(doc_access=access, old=old, new=new)
    assert len(runs) == 1
    assert first.summary == again.summary == "1 word added, 1 removed in 1 paragraph"

    Preview.objects.filter(blob_id=new.blob_id).update(
        html='<p id="p-1">Beds 30</p>', made_at=timezone.now()
    )
    remade = versions_compare(doc_access=access, old=old, new=new)
    assert len(runs) == 2
    assert remade.text is not None and "30" in [
        s.text for b in remade.text.blocks for s in b.segments
    ]
