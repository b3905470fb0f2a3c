"""The blob's claim (``services.blob_store``): one statement makes the row or moves its
``touched_at`` to now, and says which, so a failed store withdraws only a claim it made."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from commonroom.documents.models import Blob
from commonroom.documents.services import _blob_claim, blob_store

pytestmark = pytest.mark.django_db

SHA = hashlib.sha256(b"board papers").hexdigest()


def test_the_first_claim_makes_the_row() -> None:
    before = timezone.now()
    blob, created = _blob_claim(SHA, 12)
    assert created
    row = Blob.objects.get(pk=SHA)
    assert (row.size, row.created_at, row.touched_at) == (12, blob.created_at, blob.touched_at)
    assert row.created_at >= before


def test_a_later_claim_touches_the_row_and_keeps_when_it_was_made() -> None:
    _blob_claim(SHA, 12)
    long_ago = timezone.now() - timedelta(days=3)
    Blob.objects.filter(pk=SHA).update(created_at=long_ago, touched_at=long_ago)
    blob, created = _blob_claim(SHA, 12)
    assert not created
    row = Blob.objects.get(pk=SHA)
    assert row.created_at == long_ago == blob.created_at
    assert row.touched_at == blob.touched_at > long_ago + timedelta(days=2)


def test_a_failed_store_withdraws_its_own_claim_but_not_an_earlier_one(monkeypatch) -> None:
    from commonroom.documents.storage import DurableFileSystemStorage

    content = b"board papers"
    blob_store(uploaded=SimpleUploadedFile("a.txt", content))  # an earlier claim, stored

    def broken_save(self, name, content):
        raise OSError("disk full")

    monkeypatch.setattr(DurableFileSystemStorage, "_save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        blob_store(uploaded=SimpleUploadedFile("b.txt", content))
    assert Blob.objects.filter(pk=SHA).exists()  # not this upload's to withdraw
    with pytest.raises(OSError, match="disk full"):
        blob_store(uploaded=SimpleUploadedFile("c.txt", b"other bytes"))
    assert not Blob.objects.filter(pk=hashlib.sha256(b"other bytes").hexdigest()).exists()
