"""Eight people uploading new versions of one document at the same moment: eight versions,
numbered without gaps or duplicates, none lost. Runs on whichever database the suite uses."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.core.exceptions import Conflict
from commonroom.documents.models import Blob, Version
from commonroom.documents.tests.factories import new_version, upload
from commonroom.documents.tests.support import multipart
from commonroom.workspaces.tests.factories import add_member

THREADS = 8


def run_at_once(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in THREADS threads released together; re-raise the first failure."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS
    errors: list[BaseException] = []

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an upload never finished"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def editors(team) -> list[Any]:
    from commonroom.accounts.tests.factories import UserFactory

    return [add_member(team.workspace, UserFactory(), "editor") for _ in range(THREADS)]


def assert_eight_new_versions(doc, contents: list[bytes]) -> None:
    versions = list(Version.objects.filter(document=doc).order_by("number"))
    assert [v.number for v in versions] == list(range(1, THREADS + 2))
    doc.refresh_from_db()
    assert doc.current_version_number == THREADS + 1
    # every upload is there, once
    assert sorted(v.blob_id for v in versions[1:]) == sorted(
        hashlib.sha256(c).hexdigest() for c in contents
    )
    # all were based on version 1: exactly one of them was still the latest when it landed
    assert {v.based_on_number for v in versions[1:]} == {1}
    assert sorted(v.based_on_latest for v in versions[1:]) == [False] * (THREADS - 1) + [True]
    assert AuditEvent.objects.filter(action=Action.VERSION_UPLOADED).count() == THREADS
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_new_versions_through_the_service(team, editors):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    contents = [f"amendment {i}".encode() * 1000 for i in range(THREADS)]

    versions = run_at_once(lambda i: new_version(editors[i], doc, contents[i], based_on_number=1))

    assert sorted(v.number for v in versions) == list(range(2, THREADS + 2))
    assert_eight_new_versions(doc, contents)


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_new_versions_through_the_page(team, editors):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    url = reverse("version_upload", args=[team.workspace.pk, doc.pk])
    contents = [f"page amendment {i}".encode() * 1000 for i in range(THREADS)]
    clients = []
    for user in editors:
        client = Client()
        client.force_login(user)
        clients.append(client)

    def post(i: int) -> Any:
        body, ctype = multipart(
            [("based_on", "1"), ("note", f"from {i}")],
            [("file", "minutes.txt", contents[i], "text/plain")],
        )
        response = clients[i].post(
            url, body, content_type=ctype, headers={"Accept": "application/json"}
        )
        assert response.status_code == 200, response.content
        return response.json()["version"]

    numbers = run_at_once(post)

    assert sorted(numbers) == list(range(2, THREADS + 2))
    assert_eight_new_versions(doc, contents)


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_uploads_of_the_same_bytes_make_one_version_and_share_one_blob(
    team, editors, store
):
    """The first to take the lock makes version 2; the others find their bytes are now the
    latest version's and are refused, each with the sentence, none with an error."""
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document

    def send(i: int) -> Any:
        try:
            return new_version(editors[i], doc, b"the same amendment").number
        except Conflict as exc:
            return exc.code, exc.message

    outcomes = run_at_once(send)

    refusal = (
        "same_as_latest",
        "This file is the same as version 2, the latest: no new version was made.",
    )
    assert sorted(outcomes, key=str) == sorted([2] + [refusal] * (THREADS - 1), key=str)
    assert sorted(Version.objects.values_list("number", flat=True)) == [1, 2]
    assert Blob.objects.count() == 2
    digest = hashlib.sha256(b"the same amendment").hexdigest()
    assert store.blob_path(digest).read_bytes() == b"the same amendment"
    assert len(store.now().media) == 2  # no stray copies or partial files


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_uploads_of_a_new_name_make_one_document(team, editors):
    """Nobody has uploaded "agenda.txt" yet; eight people do at once: one document, eight
    versions, not eight documents of the same name."""
    from commonroom.documents.models import Document

    contents = [f"agenda {i}".encode() * 100 for i in range(THREADS)]
    run_at_once(lambda i: upload(editors[i], team.workspace, "agenda.txt", contents[i]))

    [doc] = Document.objects.filter(name="agenda.txt")
    numbers = sorted(doc.versions.values_list("number", flat=True))
    assert numbers == list(range(1, THREADS + 1))
    assert sorted(doc.versions.values_list("blob_id", flat=True)) == sorted(
        hashlib.sha256(c).hexdigest() for c in contents
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_upload_key_sent_eight_times_at_once_is_stored_once(team):
    contents = b"the same retried upload"
    versions = run_at_once(
        lambda i: upload(team.editor, team.workspace, "retry.txt", contents, upload_key="k-1")
    )
    assert len({v.pk for v in versions}) == 1
    assert Version.objects.filter(upload_key="k-1").count() == 1
