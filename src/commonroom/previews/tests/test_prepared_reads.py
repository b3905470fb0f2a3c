"""The shown preview's two reads on every document page (the preview's row without its HTML,
and whether and when the document's versions' previews were made in the workspace) run SQL
built once per process (``core.prepared``): each answers what the ORM's own query reads, after
writes made straight through the ORM as another process makes them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Max, Q
from django.db.models.functions import Length
from django.utils import timezone

from commonroom.documents.models import Version
from commonroom.documents.tests.factories import new_version, upload
from commonroom.previews.models import Preview, PreviewStatus, WorkspacePreview
from commonroom.previews.selectors import _MADE_HERE, _preview_shown
from commonroom.previews.tests.factories import make_ready_preview

pytestmark = pytest.mark.django_db


def _orm_preview(blob_id: str) -> Any:
    found = (
        Preview.objects.filter(blob_id=blob_id)
        .defer("html")
        .annotate(html_length=Length("html"))
        .first()
    )
    if found is None:
        return None
    fields = {
        f.attname: getattr(found, f.attname)
        for f in Preview._meta.concrete_fields
        if f.attname != "html"
    }
    return fields, found.html_length


def _prepared_preview(blob_id: str) -> Any:
    shown = _preview_shown(blob_id)
    if shown is None:
        return None
    preview, length = shown
    assert "html" in preview.get_deferred_fields()  # read only if it is drawn
    fields = {
        f.attname: getattr(preview, f.attname)
        for f in Preview._meta.concrete_fields
        if f.attname != "html"
    }
    return fields, length


def _orm_made_here(doc: Any, blob_id: str) -> dict[str, Any]:
    return WorkspacePreview.objects.filter(
        workspace_id=doc.workspace_id,
        blob_id__in=Version.objects.filter(document=doc).values("blob_id"),
        made_at__isnull=False,
    ).aggregate(n=Count("pk"), last=Max("made_at"), this=Count("pk", filter=Q(blob_id=blob_id)))


def _prepared_made_here(doc: Any, blob_id: str) -> dict[str, Any]:
    rows = _MADE_HERE.rows(workspace_id=doc.workspace_id, document_id=doc.pk, blob_id=blob_id)
    assert len(rows) <= 1
    if not rows:
        return {"n": 0, "last": None, "this": 0}
    return {k: rows[0][k] for k in ("n", "last", "this")}


def test_the_preview_row_and_made_here_are_the_orms_after_each_write(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    first = Version.objects.get(document=doc).blob_id

    def check(blob_id: str) -> None:
        assert _prepared_preview(blob_id) == _orm_preview(blob_id)
        assert _prepared_made_here(doc, blob_id) == _orm_made_here(doc, blob_id)

    Preview.objects.filter(blob_id=first).delete()
    WorkspacePreview.objects.filter(blob_id=first).delete()
    check(first)
    assert _prepared_preview(first) is None
    make_ready_preview(doc)
    check(first)
    assert _prepared_made_here(doc, first)["this"] == 1
    second = new_version(team.editor, doc, b"two").blob_id
    WorkspacePreview.objects.filter(blob_id=second).update(made_at=None)
    check(second)
    check(first)
    assert _prepared_made_here(doc, second)["this"] == 0
    Preview.objects.filter(blob_id=first).update(
        html="<p>" + "x" * 500 + "</p>", status=PreviewStatus.FAILED, message="Broken"
    )
    WorkspacePreview.objects.update_or_create(
        workspace_id=doc.workspace_id, blob_id=second, defaults={"made_at": timezone.now()}
    )
    check(first)
    check(second)
    assert _prepared_preview(first)[1] == len("<p>" + "x" * 500 + "</p>")
    # Made again: none of the document's previews made here until then.
    WorkspacePreview.objects.filter(workspace_id=doc.workspace_id).update(made_at=None)
    check(first)
    assert _prepared_made_here(doc, first) == {"n": 0, "last": None, "this": 0}
