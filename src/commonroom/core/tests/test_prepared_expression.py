"""core.prepared.PreparedExpression and Written: a value that is SQL (PostgreSQL's search vector
of an entry) compiled by the ORM once, written by ``insert`` and ``update_where`` in statements
still built once, into the row the ORM writes with the expression itself; the ORM given the
expression wherever it writes instead; a definition whose SQL would move with its inputs
refused."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.models import CharField, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Upper
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from commonroom.core.prepared import PreparedExpression, Written, insert, update_where
from commonroom.search.models import Kind, SearchEntry

pytestmark = pytest.mark.django_db


def _shouted(text: str) -> Any:
    return Upper(Concat(Value(text), Value("!")))


_SHOUTED = PreparedExpression("test.shouted", SearchEntry, _shouted, "text")


def _entry(team: Any, object_id: str, **values: Any) -> SearchEntry:
    fields = {"title": "old", "body": "old words"} | values
    return SearchEntry(
        kind=Kind.DOCUMENT, object_id=object_id, workspace_id=team.workspace.pk, **fields
    )


def _row(object_id: str, *names: str) -> tuple[Any, ...]:
    return SearchEntry.objects.filter(object_id=object_id).values_list(*names).get()


def _orm_fails(monkeypatch: Any) -> None:
    monkeypatch.setattr(models.Model, "save", lambda *a, **k: pytest.fail("the ORM's save"))
    monkeypatch.setattr(QuerySet, "update", lambda *a, **k: pytest.fail("the ORM's update"))


def test_a_written_value_is_the_sql_the_orm_compiled_with_its_inputs_as_parameters() -> None:
    written = _SHOUTED(text="a 'quoted' word")
    assert isinstance(written, Written)
    assert "quoted" not in written.sql and "a 'quoted' word" in written.params
    assert _SHOUTED(text="other").sql == written.sql  # one SQL text, whatever the inputs


def test_insert_writes_the_row_the_orm_writes_with_the_expression(
    team: Any, monkeypatch: Any
) -> None:
    SearchEntry.objects.create(
        **{**_fields(team, "orms"), "title": _shouted("ünï 'x'"), "body": "b"}
    )
    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as ran:
        _orm_fails(patched)
        insert(_entry(team, "ours", title=_SHOUTED(text="ünï 'x'"), body="b"))
    assert len(ran.captured_queries) == 1
    assert _row("ours", "title", "body") == _row("orms", "title", "body")
    assert _row("ours", "title")[0].endswith("!")


def test_update_where_writes_what_the_querysets_update_writes(team: Any, monkeypatch: Any) -> None:
    for object_id in ("ours", "orms", "other"):
        _entry(team, object_id).save()
    SearchEntry.objects.filter(object_id="orms").update(title=_shouted("new"), body="n")
    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as ran:
        _orm_fails(patched)
        changed = update_where(
            SearchEntry, {"object_id": "ours"}, {"title": _SHOUTED(text="new"), "body": "n"}
        )
    assert changed == 1 and len(ran.captured_queries) == 1
    assert _row("ours", "title", "body") == _row("orms", "title", "body") == ("NEW!", "n")
    assert _row("other", "title") == ("old",)


def test_where_the_orm_writes_it_is_given_the_expression(team: Any) -> None:
    """A model something listens to the saves of (insert), a condition on ``None``
    (update_where): the ORM writes the row, with the expression, not the Written."""
    heard: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        heard.append(instance)

    post_save.connect(receiver, sender=SearchEntry)
    try:
        insert(_entry(team, "heard", title=_SHOUTED(text="loud")))
    finally:
        post_save.disconnect(receiver, sender=SearchEntry)
    assert len(heard) == 1 and _row("heard", "title") == ("LOUD!",)
    assert (
        update_where(
            SearchEntry,
            {"object_id": "heard", "author_id": None},
            {"title": _SHOUTED(text="again")},
        )
        == 1
    )
    assert _row("heard", "title") == ("AGAIN!",)


def test_an_expression_whose_sql_moves_with_its_inputs_is_refused() -> None:
    def fixed(text: str) -> Any:
        return Upper(Value("always the same"))

    def spliced(text: str) -> Any:
        return RawSQL(f"UPPER('{text}')", (), output_field=CharField())  # noqa: S611 - the case refused

    with pytest.raises(ImproperlyConfigured, match="not among its parameters"):
        PreparedExpression("test.fixed", SearchEntry, fixed, "text")(text="x")
    with pytest.raises(ImproperlyConfigured, match="written into the SQL"):
        PreparedExpression("test.spliced", SearchEntry, spliced, "text")(text="x")
    with pytest.raises(TypeError):
        _SHOUTED(txt="x")


def test_an_input_changed_by_the_definition_is_refused() -> None:
    """An input stripped, cut or replaced inside ``build`` would be written as given, not as
    the ORM writes it: the definition is refused, not compiled."""
    builds = (
        lambda text: Upper(Value(text.strip())),
        lambda text: Upper(Value(text[:255])),
        lambda text: Upper(Value(text.lower())),
    )
    for n, build in enumerate(builds):
        with pytest.raises(ImproperlyConfigured):
            PreparedExpression(f"test.changed.{n}", SearchEntry, build, "text")(text="x")


def test_a_written_value_anywhere_else_is_its_expression_for_the_orm(team: Any) -> None:
    """A Written compiled for another database is the ORM's to write (insert, update_where);
    update() gives the ORM the expression; insert_new, which writes values alone, refuses it."""
    from dataclasses import replace

    from commonroom.core.prepared import insert_new, update

    # Another database's SQL, which this one could not run: never put into its statement.
    elsewhere = replace(_SHOUTED(text="far"), sql="ANOTHER DATABASE'S SQL", using="another")
    insert(_entry(team, "far", title=elsewhere))
    assert _row("far", "title") == ("FAR!",)
    far_again = replace(elsewhere, expression=_SHOUTED(text="again").expression)
    assert update_where(SearchEntry, {"object_id": "far"}, {"title": far_again}) == 1
    assert _row("far", "title") == ("AGAIN!",)

    entry = SearchEntry.objects.get(object_id="far")
    entry.title = cast(Any, _SHOUTED(text="updated"))
    update(entry, ["title"])
    assert _row("far", "title") == ("UPDATED!",)

    with pytest.raises(TypeError, match="insert_new"):
        insert_new([_entry(team, "new", title=_SHOUTED(text="no"))])
    assert not SearchEntry.objects.filter(object_id="new").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the vector is PostgreSQL's")
def test_an_entrys_vector_is_the_one_the_orm_writes(team: Any, monkeypatch: Any) -> None:
    from commonroom.search.backends import index_text
    from commonroom.search.services import _vector, _vector_of

    title, body = "Rapport d'été: ÜBER 'quoted' words", "Les mots du corps, x_y 50% \\ fin"
    expected = _vector_of(index_text(title), index_text(body))
    SearchEntry.objects.create(**{**_fields(team, "orms"), "vector": expected})
    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as ran:
        _orm_fails(patched)
        insert(_entry(team, "ours", vector=_vector(title, body)))
    assert len(ran.captured_queries) == 1
    assert _row("ours", "vector")[0] == _row("orms", "vector")[0]
    assert "'rapport':1A" in _row("ours", "vector")[0]

    SearchEntry.objects.filter(object_id="orms").update(vector=_vector_of("new", "words"))
    with monkeypatch.context() as patched:
        _orm_fails(patched)
        assert update_where(SearchEntry, {"object_id": "ours"}, {"vector": _vector("new", "words")})
    assert _row("ours", "vector")[0] == _row("orms", "vector")[0] == "'new':1A 'words':2B"


def _fields(team: Any, object_id: str) -> dict[str, Any]:
    return {
        "kind": Kind.DOCUMENT,
        "object_id": object_id,
        "workspace_id": team.workspace.pk,
        "title": "old",
        "body": "old words",
    }
