"""An API token's row and its person, read with SQL built once per process
(``accounts.selectors._token_matching``, decision 41), are what the ORM reads after every kind
of write that changes what a token may do: revoked, its person deactivated or made a guest, its
scope changed, its last use recorded, another token of the same person, the token deleted. And
whatever the row says, a secret that is not the token's whole secret matches nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.accounts import selectors
from commonroom.accounts.models import ApiToken, TokenScope, User, UserKind
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fields_of(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def orm_read(secret: str) -> ApiToken | None:
    """The row as the ORM reads it, with its person (the read the prepared one replaced)."""
    prefix = secret[: len(selectors.TOKEN_PREFIX) + 8]
    return ApiToken.objects.select_related("user").filter(prefix=prefix).first()


def assert_same_as_the_orm(secret: str) -> ApiToken | None:
    with CaptureQueriesContext(connection) as queries:
        token = selectors._token_matching(secret)
    assert len(queries) == 1
    expected = orm_read(secret)
    if expected is None:
        assert token is None
        return None
    assert token is not None
    assert fields_of(token) == fields_of(expected)
    assert fields_of(token.user) == fields_of(expected.user)
    assert token.user.pk == token.user_id
    return token


def test_the_prepared_read_is_the_orms_after_every_write_that_changes_a_token():
    person: Any = UserFactory(email="una@example.org")
    secret = token_create(actor=person, name="laptop", scope=TokenScope.WRITE).secret
    other = token_create(actor=person, name="phone").secret

    first = assert_same_as_the_orm(secret)
    assert first is not None and first.can_write and first.revoked_at is None
    assert assert_same_as_the_orm(other) is not None

    ApiToken.objects.filter(prefix=first.prefix).update(scope=TokenScope.READ)
    assert not assert_same_as_the_orm(secret).can_write  # type: ignore[union-attr]

    now = timezone.now()
    ApiToken.objects.filter(prefix=first.prefix).update(last_used_at=now, last_used_ip="10.0.0.9")
    read = assert_same_as_the_orm(secret)
    assert read is not None and read.last_used_at == now and read.last_used_ip == "10.0.0.9"

    User.objects.filter(pk=person.pk).update(kind=UserKind.GUEST, full_name="Una Guest")
    read = assert_same_as_the_orm(secret)
    assert read is not None and read.user.is_guest and read.user.full_name == "Una Guest"

    User.objects.filter(pk=person.pk).update(is_active=False)
    read = assert_same_as_the_orm(secret)
    assert read is not None and not read.user.is_active
    assert (
        selectors.token_authenticate(secret) is None
    )  # an inactive person's token signs in no one

    ApiToken.objects.filter(prefix=first.prefix).update(revoked_at=now)
    read = assert_same_as_the_orm(secret)
    assert read is not None and read.revoked_at == now
    assert selectors.token_authenticate(secret) is None

    ApiToken.objects.filter(prefix=first.prefix).delete()
    assert assert_same_as_the_orm(secret) is None
    assert assert_same_as_the_orm(other) is not None


def test_only_the_whole_secret_matches():
    person: Any = UserFactory(email="una@example.org")
    secret = token_create(actor=person, name="laptop").secret
    assert selectors._token_matching(secret) is not None
    # The same prefix with another secret after it: the row is read, the secret refused.
    assert selectors._token_matching(secret[:-4] + "xxxx") is None
    assert selectors._token_matching("") is None
    assert selectors._token_matching(secret.split("_")[0]) is None
