"""core.prepared.insert: a row written with an INSERT built once per model is the row
``save(force_insert=True)`` writes (every column, defaults, times set on insert, JSON, a key
the database makes), and a model something listens to the saves of is saved by the ORM, so
that no receiver is skipped. ``IExactText``: a name compared with ``__iexact`` through SQL
built once matches what the ORM's lookup matches, ``%``, ``_`` and ``\\`` included."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.db import connection, models
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from commonroom.core.prepared import IExactText, Prepared, insert
from commonroom.live.models import Event
from commonroom.previews.models import WorkspacePreview
from commonroom.search.models import Kind, SearchEntry

pytestmark = pytest.mark.django_db


def _columns(model: type[models.Model], pk: Any) -> dict[str, Any]:
    row = model._default_manager.filter(pk=pk).values(
        *(f.attname for f in model._meta.concrete_fields)
    )
    return dict(row.get())


def _without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in names}


def test_an_event_with_its_own_key_and_json_is_the_orms_row(team: Any) -> None:
    data = {"document": "d", "n": 1, "list": [1, "two", None], "nested": {"é": "ü"}}
    ours = insert(Event(workspace_id=team.workspace.pk, kind="document.added", data=data))
    orms = Event.objects.create(workspace_id=team.workspace.pk, kind="document.added", data=data)
    assert isinstance(ours.pk, int) and ours.pk == orms.pk - 1
    assert not ours._state.adding and ours._state.db == "default"
    written, expected = _columns(Event, ours.pk), _columns(Event, orms.pk)
    assert _without(written, "id", "created_at") == _without(expected, "id", "created_at")
    assert written["created_at"] == ours.created_at  # the time the object held, as written
    assert written["data"] == data


def test_a_row_with_a_time_set_on_insert_is_the_orms_row(team: Any) -> None:
    from commonroom.documents.tests.factories import upload

    first = upload(team.manager, team.workspace, "a.txt", b"one")
    second = upload(team.manager, team.workspace, "b.txt", b"two")
    WorkspacePreview.objects.all().delete()
    ours = insert(WorkspacePreview(workspace_id=team.workspace.pk, blob_id=first.blob_id))
    orms = WorkspacePreview.objects.create(workspace_id=team.workspace.pk, blob_id=second.blob_id)
    assert ours.created_at is not None  # auto_now_add, set as save sets it
    written, expected = _columns(WorkspacePreview, ours.pk), _columns(WorkspacePreview, orms.pk)
    assert written["created_at"] == ours.created_at
    assert _without(written, "id", "created_at", "blob_id") == _without(
        expected, "id", "created_at", "blob_id"
    )


def test_it_is_one_statement(team: Any) -> None:
    insert(Event(workspace_id=team.workspace.pk, kind="x", data={}))
    with CaptureQueriesContext(connection) as ran:
        insert(Event(workspace_id=team.workspace.pk, kind="x", data={}))
    assert len(ran.captured_queries) == 1
    assert ran.captured_queries[0]["sql"].upper().startswith("INSERT")


def test_a_model_with_a_receiver_is_saved_by_the_orm(team: Any) -> None:
    heard: list[Any] = []

    def receiver(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=SearchEntry)
    try:
        entry = insert(
            SearchEntry(
                kind=Kind.DOCUMENT,
                object_id="x",
                title="t",
                body="b",
                workspace_id=team.workspace.pk,
            )
        )
    finally:
        post_save.disconnect(receiver, sender=SearchEntry)
    assert heard == [(entry.pk, True)]
    assert SearchEntry.objects.filter(pk=entry.pk).exists()


def _named(*, kind: str) -> QuerySet[Event, Any]:
    return Event.objects.filter(kind__iexact=kind).order_by("pk").values_list("pk")


NAMED = Prepared("test.named", _named, kind=IExactText())


@pytest.mark.parametrize("asked", ["a_b", "A_B", "a%b", "a\\b", "axb", "A%", "_", "%", "ab"])
def test_iexact_text_matches_what_the_orm_matches(team: Any, asked: str) -> None:
    for kind in ("a_b", "aXb", "a%b", "a\\b", "AZb", "ab", "a"):
        Event.objects.create(workspace_id=team.workspace.pk, kind=kind, data={})
    prepared = [row["pk"] for row in NAMED.rows(kind=asked)]
    assert prepared == list(_named(kind=asked).values_list("pk", flat=True))


def test_an_update_writes_what_save_with_update_fields_writes(team: Any) -> None:
    from commonroom.audit.models import AuditChainHead
    from commonroom.core.prepared import update
    from commonroom.documents.models import Document
    from commonroom.documents.tests.factories import upload

    version = upload(team.manager, team.workspace, "a.txt", b"one")
    ours = Document.objects.get(pk=version.document_id)
    orms = Document.objects.get(pk=version.document_id)
    ours.current_version_number = orms.current_version_number = 7
    ours.name = orms.name = "not written"  # not among the fields: neither writes it
    update(ours, ["current_version_number", "updated_at"])
    written = _columns(Document, ours.pk)
    orms.save(update_fields=["current_version_number", "updated_at"])
    assert written == _columns(Document, orms.pk)
    assert written["current_version_number"] == 7 and written["name"] == "a.txt"

    head = AuditChainHead.objects.get(pk=str(team.workspace.pk))
    head.seq, head.times_in_order = head.seq + 5, False
    with CaptureQueriesContext(connection) as ran:
        update(head, ["seq", "times_in_order"])
    assert len(ran.captured_queries) == 1
    assert _columns(AuditChainHead, head.pk) == {
        f.attname: getattr(head, f.attname) for f in AuditChainHead._meta.concrete_fields
    }


def test_an_update_of_a_row_that_is_gone_is_refused_as_save_refuses_it(team: Any) -> None:
    from django.db import DatabaseError

    from commonroom.core.prepared import update

    event = Event.objects.create(workspace_id=team.workspace.pk, kind="x", data={})
    Event.objects.filter(pk=event.pk).delete()
    event.kind = "y"
    with pytest.raises(DatabaseError):
        update(event, ["kind"])
    with pytest.raises(DatabaseError):
        event.save(update_fields=["kind"])


def test_new_rows_are_those_bulk_create_ignoring_conflicts_writes(team: Any) -> None:
    from commonroom.core.prepared import insert_new
    from commonroom.documents.tests.factories import upload
    from commonroom.notifications.models import DocumentSeen, Follow, Notification

    version = upload(team.manager, team.workspace, "a.txt", b"one")
    doc_id = version.document_id
    Follow.objects.filter(document_id=doc_id).delete()
    people = [team.editor, team.viewer, team.commenter]
    # One follows already: the statement skips them and writes the others, as bulk_create does.
    Follow.objects.bulk_create([Follow(user=team.viewer, document_id=doc_id)])
    written = insert_new([Follow(user=p, document_id=doc_id) for p in people])
    assert len(written) == 2
    assert set(Follow.objects.filter(pk__in=written).values_list("user_id", flat=True)) == {
        team.editor.pk,
        team.commenter.pk,
    }
    assert Follow.objects.filter(document_id=doc_id).count() == 3
    assert insert_new([Follow(user=team.editor, document_id=doc_id)]) == []

    def note(person: Any, key: str) -> Notification:
        return Notification(
            recipient=person,
            workspace_id=team.workspace.pk,
            kind="new_version",
            document_id=doc_id,
            target_url="/x",
            summary="s",
            dedupe_key=key,
        )

    first = [note(team.editor, "k"), note(team.viewer, "k")]
    assert sorted(insert_new(first)) == sorted(n.pk for n in first)  # in no promised order
    assert all(not n._state.adding for n in first)
    again = [note(team.editor, "k"), note(team.commenter, "k")]  # the editor has "k" already
    assert insert_new(again) == [again[1].pk]
    assert again[0]._state.adding and not again[1]._state.adding
    ours = _columns(Notification, again[1].pk)
    orms = note(team.manager, "k")
    Notification.objects.bulk_create([orms], ignore_conflicts=True)
    expected = _columns(Notification, orms.pk)
    assert _without(ours, "id", "recipient_id", "created_at") == _without(
        expected, "id", "recipient_id", "created_at"
    )
    seen = DocumentSeen(user=team.editor, document_id=doc_id, version_number=1)
    DocumentSeen.objects.filter(document_id=doc_id).delete()
    assert len(insert_new([seen])) == 1
    assert insert_new([DocumentSeen(user=team.editor, document_id=doc_id, version_number=2)]) == []
    assert DocumentSeen.objects.get(user=team.editor, document_id=doc_id).version_number == 1


def test_a_version_seen_moves_the_persons_row_up_never_down(team: Any) -> None:
    from commonroom.documents.tests.factories import upload
    from commonroom.notifications.models import DocumentSeen
    from commonroom.notifications.services import _mark_seen

    doc_id = upload(team.manager, team.workspace, "a.txt", b"one").document_id

    def seen(person: Any) -> int | None:
        return (
            DocumentSeen.objects.filter(user=person, document_id=doc_id)
            .values_list("version_number", flat=True)
            .first()
        )

    _mark_seen(team.editor.pk, doc_id, 3, new=True)  # no row: made
    assert seen(team.editor) == 3
    with CaptureQueriesContext(connection) as ran:
        _mark_seen(team.editor.pk, doc_id, 2, new=True)  # older: left as it is
    assert seen(team.editor) == 3 and len(ran.captured_queries) == 1
    before = DocumentSeen.objects.get(user=team.editor, document_id=doc_id).seen_at
    _mark_seen(team.editor.pk, doc_id, 5, new=True)
    row = DocumentSeen.objects.get(user=team.editor, document_id=doc_id)
    assert row.version_number == 5 and row.seen_at >= before
    _mark_seen(team.editor.pk, doc_id, 4)  # a page read again: seen already, nothing written
    assert seen(team.editor) == 5
    assert DocumentSeen.objects.filter(document_id=doc_id, user=team.editor).count() == 1


def test_a_version_seen_is_written_by_a_statement_built_once(team: Any, monkeypatch: Any) -> None:
    from commonroom.documents.tests.factories import upload
    from commonroom.notifications.models import DocumentSeen
    from commonroom.notifications.services import _mark_seen

    doc_id = upload(team.manager, team.workspace, "a.txt", b"one").document_id
    _mark_seen(team.editor.pk, doc_id, 2, new=True)
    built: list[str] = []
    quote = connection.ops.quote_name

    def quoting(name: str) -> str:
        built.append(name)
        return quote(name)

    monkeypatch.setattr(connection.ops, "quote_name", quoting)
    _mark_seen(team.editor.pk, doc_id, 3, new=True)
    _mark_seen(team.manager.pk, doc_id, 3, new=True)
    assert built == []  # not one name quoted again: the statement was kept
    seen = DocumentSeen.objects.filter(document_id=doc_id).values_list("user_id", "version_number")
    assert dict(seen)[team.editor.pk] == 3 and dict(seen)[team.manager.pk] == 3


def test_a_model_with_its_own_save_is_saved_by_it(team: Any, monkeypatch: Any) -> None:
    from commonroom.core.prepared import update

    saved: list[Any] = []
    plain_save = Event.save

    def own_save(self: Event, *args: Any, **kwargs: Any) -> None:
        saved.append(kwargs)
        plain_save(self, *args, **kwargs)

    monkeypatch.setattr(Event, "save", own_save)
    event = insert(Event(workspace_id=team.workspace.pk, kind="x", data={}))
    event.kind = "y"
    update(event, ["kind"])
    assert saved == [
        {"force_insert": True, "using": "default"},
        {"update_fields": ["kind"], "using": "default"},
    ]
    assert Event.objects.get(pk=event.pk).kind == "y"


def test_many_new_rows_are_written_in_batches_each_within_a_statements_parameters(
    team: Any, monkeypatch: Any
) -> None:
    """More rows than a statement takes (SQLite's limit on its parameters): written in batches,
    the conflicting ones skipped in every batch, each row once."""
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.core import prepared
    from commonroom.core.prepared import insert_new
    from commonroom.documents.tests.factories import upload
    from commonroom.notifications.models import Follow

    monkeypatch.setattr(prepared, "BATCH_ROWS", 3)
    doc_id = upload(team.manager, team.workspace, "many.txt", b"many").document_id
    people: list[Any] = [UserFactory() for _ in range(7)]
    Follow.objects.filter(document_id=doc_id).delete()
    Follow.objects.create(user=people[4], document_id=doc_id)  # in the second batch
    statements: list[str] = []
    with CaptureQueriesContext(connection) as queries:
        written = insert_new([Follow(user=person, document_id=doc_id) for person in people])
        statements = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(statements) == 3  # 3 + 3 + 1 rows
    assert len(written) == 6
    assert set(Follow.objects.filter(document_id=doc_id).values_list("user_id", flat=True)) == {
        p.pk for p in people
    }


def _entry(team: Any, object_id: str) -> SearchEntry:
    return SearchEntry.objects.create(
        kind=Kind.DOCUMENT,
        object_id=object_id,
        title="old",
        body="old words",
        workspace_id=team.workspace.pk,
    )


def test_update_where_writes_what_the_querysets_update_writes(team: Any, monkeypatch: Any) -> None:
    import datetime

    from django.db.models import QuerySet

    from commonroom.core.prepared import update_where

    ours, orms, other = _entry(team, "ours"), _entry(team, "orms"), _entry(team, "other")
    when = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC)
    values = {
        "title": "new ünïcode",
        "body": "new words",
        "workspace_id": team.workspace.pk,
        "document_id": None,
        "conversation": None,
        "author_id": team.manager.pk,
        "created_at": when,
        "updated_at": when,
    }
    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as ran:
        # Its own statement, not the ORM's update (which would write the same).
        patched.setattr(QuerySet, "update", lambda *a, **k: pytest.fail("the ORM's update"))
        changed = update_where(SearchEntry, {"kind": Kind.DOCUMENT, "object_id": "ours"}, values)
    assert len(ran.captured_queries) == 1
    assert changed == 1
    assert SearchEntry.objects.filter(kind=Kind.DOCUMENT, object_id="orms").update(**values) == 1
    written, expected = _columns(SearchEntry, ours.pk), _columns(SearchEntry, orms.pk)
    assert _without(written, "id", "object_id") == _without(expected, "id", "object_id")
    assert written["title"] == "new ünïcode" and written["updated_at"] == when
    assert _columns(SearchEntry, other.pk)["title"] == "old"  # its condition held


def test_update_where_counts_what_it_changed_as_update_counts(team: Any) -> None:
    from commonroom.core.prepared import update_where

    _entry(team, "there")
    for where in ({"object_id": "missing"}, {"object_id": "there"}, {"author_id": None}):
        asked = {"kind": Kind.DOCUMENT, **where}
        expected = SearchEntry.objects.filter(**asked).count()
        assert update_where(SearchEntry, asked, {"title": "t"}) == expected
        assert SearchEntry.objects.filter(**asked, title="t").count() == expected


def test_update_where_leaves_an_expression_to_the_orm(team: Any) -> None:
    from django.db.models import F
    from django.db.models.functions import Upper

    from commonroom.core.prepared import update_where

    entry = _entry(team, "x")
    assert update_where(SearchEntry, {"object_id": "x"}, {"title": Upper(F("body"))}) == 1
    entry.refresh_from_db()
    assert entry.title == "OLD WORDS"


def test_update_where_leaves_to_the_orm_what_it_would_write_otherwise(team: Any) -> None:
    """No values, a model object or a lookup in a condition: the ORM's answers."""
    from commonroom.core.prepared import update_where

    _entry(team, "y")
    assert update_where(SearchEntry, {"object_id": "y"}, {}) == 0
    assert update_where(SearchEntry, {"author": team.manager}, {"title": "a"}) == (
        SearchEntry.objects.filter(author=team.manager, title="a").count()
    )
    assert update_where(SearchEntry, {"object_id__in": ["y"]}, {"title": "b"}) == 1
    assert SearchEntry.objects.filter(object_id="y").values_list("title", flat=True)[0] == "b"


def test_a_failed_write_marks_its_transaction_for_rollback_as_save_does(team: Any) -> None:
    """In an atomic block without a savepoint, a statement that fails (a row with no
    workspace) leaves the transaction marked for rollback, as save() and bulk_create leave
    it: nothing after it commits half a change."""
    from django.db import IntegrityError, transaction

    from commonroom.core.prepared import insert_new
    from commonroom.documents.tests.factories import upload
    from commonroom.notifications.services import _mark_seen

    version = upload(team.manager, team.workspace, "a.txt", b"one")
    blob_id = version.blob_id

    def seen_by_nobody(row: Any) -> None:  # the version seen by no one: not null, refused
        _mark_seen(None, version.document_id, 1, new=True)

    for write in (insert, lambda row: insert_new([row]), seen_by_nobody):
        with transaction.atomic():
            with transaction.atomic(savepoint=False), pytest.raises(IntegrityError):
                write(WorkspacePreview(workspace_id=cast(Any, None), blob_id=blob_id))
            assert transaction.get_connection().needs_rollback
        # The outer block, a savepoint in the test's transaction, rolled back to it on leaving.
