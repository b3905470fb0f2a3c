"""A version's preview row is claimed in one statement (``previews.services._preview_claim``):
made once, pending or unsupported, with every column as the model makes it; a second claim of
the same blob makes nothing and says so."""

from __future__ import annotations

import pytest
from django.db import transaction

from commonroom.documents.models import Blob
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.services import UNSUPPORTED, _preview_claim

pytestmark = pytest.mark.django_db


def _blob(sha: str) -> str:
    Blob.objects.create(sha256=sha, size=3)
    return sha


def test_a_blob_new_to_previews_gets_one_pending_row() -> None:
    sha = _blob("a" * 64)
    with transaction.atomic():
        assert _preview_claim(sha, "txt") is True
        assert _preview_claim(sha, "txt") is False
    preview = Preview.objects.get(blob_id=sha)
    assert preview.status == PreviewStatus.PENDING
    assert preview.format == "txt"
    assert preview.message == ""
    assert preview.notes == []
    assert preview.created_at is not None
    assert preview.made_at is None


def test_a_kind_no_converter_takes_is_unsupported_at_once() -> None:
    sha = _blob("b" * 64)
    assert _preview_claim(sha, None) is True
    preview = Preview.objects.get(blob_id=sha)
    assert (preview.status, preview.format, preview.message) == (
        PreviewStatus.UNSUPPORTED,
        "",
        UNSUPPORTED,
    )


def test_a_claim_leaves_a_made_preview_as_it_is() -> None:
    sha = _blob("c" * 64)
    Preview.objects.create(blob_id=sha, status=PreviewStatus.READY, format="txt", text="words")
    assert _preview_claim(sha, "txt") is False
    preview = Preview.objects.get(blob_id=sha)
    assert (preview.status, preview.text) == (PreviewStatus.READY, "words")


def test_the_blobs_key_is_a_previews_only_unique_column() -> None:
    """The claim's insert does nothing on any conflict: that is a conflict on the blob's row
    only while the key is the one unique column (a constraint added later must name it)."""
    meta = Preview._meta
    assert [f.name for f in meta.concrete_fields if f.unique] == [meta.pk.name]
    assert not meta.unique_together
    assert not meta.constraints
