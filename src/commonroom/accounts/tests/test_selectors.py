"""Reads other apps make of accounts through its selectors: the members of workspaces, and
whether what a socket was opened with still signs its person in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.accounts.models import User
from commonroom.accounts.selectors import (
    Credential,
    credentials_valid,
    uploader_id,
    users_in_workspaces,
)
from commonroom.accounts.services import token_create, token_revoke
from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db


def test_the_members_of_some_workspaces_each_once_by_name_then_email() -> None:
    first = make_workspace(manager=UserFactory(full_name="Cy Lead", email="c@example.org"))
    second = make_workspace(manager=UserFactory(full_name="Ann Lead", email="z@example.org"))
    both = UserFactory(full_name="Ann Lead", email="a@example.org")
    add_member(first, both)
    add_member(second, both)
    elsewhere = make_workspace(manager=UserFactory(full_name="Bo Outside"))
    add_member(elsewhere, UserFactory(full_name="Al Outside"))

    ids = Workspace.objects.filter(pk__in=[first.pk, second.pk]).values("pk")
    people = users_in_workspaces(ids)

    assert [(p.full_name, p.email) for p in people] == [
        ("Ann Lead", "a@example.org"),
        ("Ann Lead", "z@example.org"),
        ("Cy Lead", "c@example.org"),
    ]
    assert users_in_workspaces(Workspace.objects.none().values("pk")) == []


def _session_of(user: Any) -> str:
    browser = Client()
    browser.force_login(user)
    return str(browser.cookies["sessionid"].value)


def test_credentials_still_sign_in_until_revoked_ended_or_the_password_changes() -> None:
    """What a socket was opened with, asked again: a token until revoked (and only as its
    person's, and a guest's only while they are allowed tokens), a session until it ends,
    expires or its person's password changes, nobody switched off; three queries however many
    are asked about, and what asks about guests' allowance."""
    ann, bo, cy = UserFactory.create(), UserFactory.create(), UserFactory.create()
    token = token_create(actor=ann, name="script").token
    revoked = token_create(actor=ann, name="old").token
    token_revoke(actor=ann, token_id=revoked.pk)
    sessions = {name: _session_of(user) for name, user in [("ann", ann), ("bo", bo), ("cy", cy)]}
    ended, expired = _session_of(ann), _session_of(ann)
    Session.objects.filter(session_key=ended).delete()
    Session.objects.filter(session_key=expired).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    guest = GuestFactory.create(api_tokens_allowed=True)
    guests_token = token_create(actor=guest, name="script").token
    User.objects.filter(pk=guest.pk).update(api_tokens_allowed=False)  # and no workspace allows
    bo.set_password("changed-elsewhere")
    bo.save()
    User.objects.filter(pk=cy.pk).update(is_active=False)

    valid = [
        Credential(kind="token", key=str(token.pk), user_id=ann.pk),
        Credential(kind="session", key=sessions["ann"], user_id=ann.pk),
    ]
    invalid = [
        Credential(kind="token", key=str(revoked.pk), user_id=ann.pk),
        Credential(kind="token", key=str(token.pk), user_id=bo.pk),  # not bo's token
        Credential(kind="token", key="not-a-number", user_id=ann.pk),
        Credential(kind="token", key=str(guests_token.pk), user_id=guest.pk),
        Credential(kind="session", key=sessions["ann"], user_id=bo.pk),  # not bo's session
        Credential(kind="session", key=sessions["bo"], user_id=bo.pk),  # password changed
        Credential(kind="session", key=sessions["cy"], user_id=cy.pk),  # switched off
        Credential(kind="session", key=ended, user_id=ann.pk),
        Credential(kind="session", key=expired, user_id=ann.pk),
    ]
    with CaptureQueriesContext(connection) as queries:
        assert credentials_valid([*valid, *invalid]) == set(valid)
    assert len(queries) <= 4  # three, and one asking whether the guest's workspaces allow it
    assert credentials_valid([]) == set()


def test_an_uploads_person_is_known_from_its_token_in_one_query() -> None:
    """Who may send an upload's body (the guard in front of Django asks before reading it): a
    write token that still signs in, as its owner's address says when one is sent, read once;
    a read token, a revoked one, a deactivated person's, another address, and a guest's no
    longer allowed are nobody's."""
    ann = UserFactory.create(email="ann@example.org")
    secret = token_create(actor=ann, name="uploads", scope="write").secret
    with CaptureQueriesContext(connection) as queries:
        assert uploader_id(bearer=secret, email="ANN@example.org") == ann.pk
    assert len(queries) == 1
    assert uploader_id(bearer=secret) == ann.pk
    assert uploader_id(bearer=secret, email="bo@example.org") is None
    assert uploader_id(bearer=token_create(actor=ann, name="r", scope="read").secret) is None
    revoked = token_create(actor=ann, name="old", scope="write")
    token_revoke(actor=ann, token_id=revoked.token.pk)
    assert uploader_id(bearer=revoked.secret) is None
    guest = GuestFactory.create(api_tokens_allowed=True)
    guests = token_create(actor=guest, name="guest's", scope="write")
    assert uploader_id(bearer=guests.secret) == guest.pk
    User.objects.filter(pk=guest.pk).update(api_tokens_allowed=False)
    assert uploader_id(bearer=guests.secret) is None
    User.objects.filter(pk=ann.pk).update(is_active=False)
    assert uploader_id(bearer=secret) is None


def test_who_each_row_mentions_is_put_on_it_in_one_query_for_comments_and_messages() -> None:
    """``mentioned_put``: what the comments' and the conversations' lists read of mentions,
    the ids of those each row mentions, ascending, none for a row mentioning no one."""
    from commonroom.accounts.selectors import mentioned_put
    from commonroom.comments.models import Comment
    from commonroom.conversations.models import Conversation, Message
    from commonroom.documents.models import Version
    from commonroom.workspaces.tests.factories import upload_document

    manager, ann, bob = (cast(User, UserFactory()) for _ in range(3))
    ws = make_workspace(manager=manager)
    version = Version.objects.get(document=upload_document(ws, manager))
    both = Comment.objects.create(
        document=version.document, version=version, author=manager, body="@ann @bob"
    )
    both.mentioned.add(bob, ann)
    alone = Comment.objects.create(
        document=version.document, version=version, author=manager, body="no one", thread=both
    )
    talk = Conversation.objects.create(workspace=ws, title="Agenda", created_by=manager)
    message = Message.objects.create(conversation=talk, author=manager, body="@bob")
    message.mentioned.add(bob)
    quiet = Message.objects.create(conversation=talk, author=manager, body="nothing")

    comments: list[dict[str, Any]] = [
        dict(row) for row in Comment.objects.order_by("created_at").values("id", "body")
    ]
    with CaptureQueriesContext(connection) as queries:
        mentioned_put(comments, Comment.mentioned)
    assert len(queries) == 1
    assert {row["id"]: row["mentioned"] for row in comments} == {
        both.pk: sorted([ann.pk, bob.pk]),
        alone.pk: [],
    }
    messages: list[dict[str, Any]] = [dict(row) for row in Message.objects.values("id")]
    mentioned_put(messages, Message.mentioned)
    assert {row["id"]: row["mentioned"] for row in messages} == {message.pk: [bob.pk], quiet.pk: []}
