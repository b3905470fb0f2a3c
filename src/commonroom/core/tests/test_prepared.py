"""core.prepared: a count whose SQL is built once says what the ORM's ``.count()`` of the same
definition says, for any values and after any write (nothing of a result is kept), and a
definition that cannot be run that way is refused when it is first asked, not answered wrongly."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.core.prepared import Prepared, columns_of, instance_from, instances_from
from commonroom.workspaces.models import Membership, current_q

pytestmark = pytest.mark.django_db


def _members(*, workspace_id: Any, today: Any) -> QuerySet[Membership]:
    return Membership.objects.filter(current_q(today=today), workspace_id=workspace_id)


MEMBERS = Prepared(
    "test.members", _members, workspace_id=models.UUIDField(), today=models.DateField()
)


def test_the_count_is_the_orms_for_every_value_and_every_write(team: Any) -> None:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.outsider, name="Elsewhere")
    today = timezone.localdate()

    def both(workspace: Any, day: Any = today) -> tuple[int, int]:
        prepared = MEMBERS.count(workspace_id=workspace.pk, today=day)
        return prepared, _members(workspace_id=workspace.pk, today=day).count()

    assert both(team.workspace) == (4, 4)
    assert both(other) == (1, 1)
    # Writes straight through the ORM, as another process makes them: no signal, nothing kept.
    Membership.objects.create(workspace=other, user=UserFactory.create(), role="viewer")
    assert both(other) == (2, 2)
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).update(access_until=today)
    assert both(team.workspace) == (4, 4)
    assert both(team.workspace, today + timedelta(days=1)) == (3, 3)  # the next day: ended
    Membership.objects.filter(workspace=team.workspace, user=team.editor).delete()
    assert both(team.workspace) == (3, 3)
    assert both(team.workspace, today + timedelta(days=1)) == (2, 2)


def test_it_is_one_statement_whose_values_are_parameters(team: Any) -> None:
    MEMBERS.count(workspace_id=team.workspace.pk, today=timezone.localdate())
    with CaptureQueriesContext(connection) as ran:
        MEMBERS.count(workspace_id=team.workspace.pk, today=timezone.localdate())
    assert len(ran) == 1
    compiled = MEMBERS._compiled[("default", connection.vendor, "count")]
    assert team.workspace.pk.hex not in compiled.sql


def test_it_takes_exactly_its_inputs(team: Any) -> None:
    with pytest.raises(TypeError):
        MEMBERS.count(workspace_id=team.workspace.pk)
    with pytest.raises(TypeError):
        MEMBERS.count(workspace_id=team.workspace.pk, today=None, user_id=1)


def test_an_input_the_query_does_not_use_is_refused(db: Any) -> None:
    unused = Prepared(
        "test.unused",
        lambda workspace_id, user_id: Membership.objects.filter(workspace_id=workspace_id),
        workspace_id=models.UUIDField(),
        user_id=models.BigIntegerField(),
    )
    with pytest.raises(ImproperlyConfigured, match="user_id"):
        unused.count(workspace_id=None, user_id=1)


def test_an_input_written_into_the_sql_is_refused(db: Any) -> None:
    written = Prepared(
        "test.written",
        # The value put in the SQL's text (on purpose: the case being refused).
        lambda user_id: Membership.objects.extra(where=[f"user_id <> {int(user_id)}"]),  # noqa: S610
        user_id=models.BigIntegerField(),
    )
    with pytest.raises(ImproperlyConfigured, match="written into the SQL"):
        written.count(user_id=1)


def test_a_query_whose_shape_moves_with_its_values_is_refused(db: Any) -> None:
    def build(user_id: int) -> QuerySet[Membership]:
        # The role chosen by the value itself: another query for other values.
        role = "viewer" if user_id % 2 else "editor"
        return Membership.objects.filter(Q(role=role), user_id=user_id)

    moving = Prepared("test.moving", build, user_id=models.BigIntegerField())
    with pytest.raises(ImproperlyConfigured, match="changes with its inputs"):
        moving.count(user_id=1)


def _member_rows(*, workspace_id: Any, today: Any) -> QuerySet[Membership, Any]:
    return (
        _members(workspace_id=workspace_id, today=today)
        .order_by("user__email", "pk")
        .values_list("id", "workspace_id", "added_at", "user__email", "role")
    )


MEMBER_ROWS = Prepared(
    "test.member_rows", _member_rows, workspace_id=models.UUIDField(), today=models.DateField()
)


def test_a_window_is_the_orms_slice_with_the_orms_values(team: Any) -> None:
    today = timezone.localdate()
    query = _member_rows(workspace_id=team.workspace.pk, today=today)
    names = ("id", "workspace_id", "added_at", "user__email", "role")
    for offset, limit in ((0, 2), (2, 2), (3, 5), (4, 1), (0, 0)):
        window = MEMBER_ROWS.window(
            limit=limit, offset=offset, workspace_id=team.workspace.pk, today=today
        )
        # The same rows, their values converted as the ORM converts them (a UUID, an aware
        # datetime), by the names values() gives them.
        assert window == [dict(zip(names, row, strict=True)) for row in query[offset:][:limit]]
    first = MEMBER_ROWS.window(limit=1, offset=0, workspace_id=team.workspace.pk, today=today)
    assert isinstance(first[0]["workspace_id"], uuid.UUID) and first[0]["added_at"].tzinfo
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).update(role="editor")
    roles = MEMBER_ROWS.window(limit=10, offset=0, workspace_id=team.workspace.pk, today=today)
    assert [r["role"] for r in roles] == [r[4] for r in query]


def test_a_window_needs_a_fixed_order_and_columns(db: Any) -> None:
    unordered = Prepared(
        "test.unordered",
        lambda user_id: Membership.objects.filter(user_id=user_id).order_by().values_list("id"),
        user_id=models.BigIntegerField(),
    )
    objects = Prepared(
        "test.objects",
        lambda user_id: Membership.objects.filter(user_id=user_id).order_by("pk"),
        user_id=models.BigIntegerField(),
    )
    for refused in (unordered, objects):
        with pytest.raises(ImproperlyConfigured, match="fixed order"):
            refused.window(limit=1, offset=0, user_id=1)


def test_rows_are_every_row_and_a_time_is_an_input(team: Any) -> None:
    """``rows()``: the whole query, no window; a ``DateTimeField`` input (now) is a parameter."""
    from django.db.models import DateTimeField

    def joined_before(*, workspace_id: Any, now: Any) -> QuerySet[Membership, Any]:
        return (
            Membership.objects.filter(workspace_id=workspace_id, added_at__lt=now)
            .order_by("pk")
            .values_list("user_id", "added_at")
        )

    prepared = Prepared(
        "test.joined_before", joined_before, workspace_id=models.UUIDField(), now=DateTimeField()
    )
    for now in (timezone.now() + timedelta(seconds=1), timezone.now() - timedelta(days=1)):
        rows = prepared.rows(workspace_id=team.workspace.pk, now=now)
        expected = joined_before(workspace_id=team.workspace.pk, now=now)
        assert [(r["user_id"], r["added_at"]) for r in rows] == list(expected)
    assert len(prepared.rows(workspace_id=team.workspace.pk, now=timezone.now())) == 4


def test_tuples_are_values_lists_rows_and_objects_are_made_as_the_orm_makes_them(
    team: Any,
) -> None:
    """``tuples()``: what ``list()`` of the ``values_list()`` query reads, converted; the
    objects :func:`instances_from` and :func:`instance_from` make from every concrete column
    are the ORM's, field for field, a NULL primary key (an outer join to no row) None."""
    from django.contrib.auth import get_user_model

    from commonroom.workspaces.models import Workspace

    person = get_user_model()

    def members(*, workspace_id: Any) -> QuerySet[Membership, Any]:
        return (
            Membership.objects.filter(workspace_id=workspace_id)
            .order_by("pk")
            .values_list(*columns_of(Membership), *columns_of(person, "user__"))
        )

    prepared = Prepared("test.member_objects", members, workspace_id=models.UUIDField())

    def fields(obj: Any) -> dict[str, Any]:
        return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}

    def check() -> None:
        rows = prepared.tuples(workspace_id=team.workspace.pk)
        assert rows == list(members(workspace_id=team.workspace.pk))
        expected = list(
            Membership.objects.filter(workspace=team.workspace)
            .select_related("user")
            .order_by("pk")
        )
        made = [instances_from(row, Membership, person) for row in rows]
        assert [(fields(m), fields(u)) for m, u in made] == [
            (fields(m), fields(m.user)) for m in expected
        ]
        dicts = prepared.rows(workspace_id=team.workspace.pk)
        assert [fields(instance_from(person, row, "user__")) for row in dicts] == [
            fields(m.user) for m in expected
        ]

    check()
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).update(
        role="editor", access_until=timezone.localdate()
    )
    person.objects.filter(pk=team.editor.pk).update(full_name="Renamed")
    check()
    assert instance_from(Workspace, {f"x__{n}": None for n in columns_of(Workspace)}, "x__") is None
    with pytest.raises(ValueError, match="columns"):
        instances_from(prepared.tuples(workspace_id=team.workspace.pk)[0], Membership)


def test_a_value_repeated_down_a_column_is_converted_once_and_a_mutable_one_never_shared(
    team: Any,
) -> None:
    """Rows repeating a value (the same time, the same JSON) read as the ORM reads them; what a
    converter makes that could be changed in place (a JSON column's dict) is each row's own."""
    from commonroom.live.models import Event

    when = timezone.now().replace(microsecond=0)
    for _ in range(3):
        Event.objects.create(
            workspace=team.workspace, kind="same", data={"n": 1}, origin="x", created_at=when
        )
    Event.objects.create(
        workspace=team.workspace, kind="other", data={"n": 2}, origin="y", created_at=when
    )

    def events(*, workspace_id: Any) -> QuerySet[Event, Any]:
        return (
            Event.objects.filter(workspace_id=workspace_id)
            .order_by("pk")
            .values_list("kind", "data", "created_at", "origin")
        )

    prepared = Prepared("test.events", events, workspace_id=models.UUIDField())
    rows = prepared.tuples(workspace_id=team.workspace.pk)
    assert rows == list(events(workspace_id=team.workspace.pk))
    assert [r[2] for r in rows] == [when] * 4
    if connection.vendor == "sqlite":  # converted by Django (made aware) once, not four times
        assert rows[0][2] is rows[1][2]
    assert rows[0][1] == rows[1][1] and rows[0][1] is not rows[1][1]  # each row's own dict
    rows[0][1]["n"] = 5
    assert rows[1][1] == {"n": 1}


@pytest.mark.parametrize(
    "kind",
    [models.PositiveIntegerField, models.PositiveSmallIntegerField, models.SmallIntegerField],
)
def test_a_positive_integer_compared_with_a_positive_column_is_a_parameter(
    team: Any, kind: type[models.Field[Any, Any]]
) -> None:
    """A sentinel out of a positive column's range would be written by Django as a constant (a
    comparison no row can fail or pass), and the query refused: a positive integer input has
    one within it, and counts as the ORM does for every value."""
    from commonroom.documents.models import Version
    from commonroom.workspaces.tests.factories import upload_document

    doc = upload_document(team.workspace, team.manager, name="a.txt")

    def since(*, document_id: Any, number: int) -> QuerySet[Version]:
        return Version.objects.filter(document_id=document_id, number__gte=number)

    prepared = Prepared(
        "test.versions_since",
        since,
        document_id=models.UUIDField(),
        number=kind(),
    )
    for number in (0, 1, 2):
        found = prepared.count(document_id=doc.pk, number=number)
        assert found == since(document_id=doc.pk, number=number).count() == (number <= 1)


@pytest.mark.django_db(transaction=True)
def test_a_locking_read_is_refused_outside_a_transaction_every_time_as_the_orm_refuses_it(
    team: Any,
) -> None:
    """Django refuses select_for_update outside a transaction when it builds the SQL, which a
    prepared read does once: the read refuses it on every run, where the database locks rows
    (SQLite does not, and the ORM runs it there as well)."""
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    from commonroom.workspaces.models import Workspace

    def locked(*, workspace_id: Any) -> QuerySet[Workspace, Any]:
        return (
            Workspace.objects.select_for_update()
            .filter(pk=workspace_id)
            .order_by("pk")
            .values_list("pk")
        )

    prepared = Prepared("test.workspace_locked", locked, workspace_id=models.UUIDField())
    with transaction.atomic():
        assert prepared.tuples(workspace_id=team.workspace.pk) == [(team.workspace.pk,)]
    if connection.features.has_select_for_update:
        for _ in range(2):
            with pytest.raises(TransactionManagementError):
                prepared.tuples(workspace_id=team.workspace.pk)
            with pytest.raises(TransactionManagementError):
                list(locked(workspace_id=team.workspace.pk))
    else:
        assert prepared.tuples(workspace_id=team.workspace.pk) == list(
            locked(workspace_id=team.workspace.pk)
        )
