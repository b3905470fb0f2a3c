"""Two people accepting different suggestions at the same moment, really at once (two threads,
two database connections, as two server processes): both changes reach the history and no
version is built on a stale copy without being flagged. The first accept is held inside its
transaction once it has locked the document and read its suggestions; the second is started
meanwhile and must wait (the workspace and document row locks on PostgreSQL, the database's
write lock on SQLite), then build on the version the first made, or be refused, with a
sentence, when the first changed its passage. Runs on whichever database the suite uses."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from commonroom.audit.selectors import audit_verify
from commonroom.core.exceptions import Conflict
from commonroom.core.tests.in_flight import one_after_another
from commonroom.office import wordedit
from commonroom.suggestions import services
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.tests.factories import (
    access,
    docx_bytes,
    suggest,
    version_bytes,
    with_preview,
)

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = ("The board met on Tuesday and agreed the budget.", "Apologies were received.")


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", docx_bytes(*TEXT))


def accepting(user: Any, doc: Any, suggestion: Suggestion) -> Any:
    def work() -> Any:
        return services.suggestions_accept(
            actor=user, doc_access=access(user, doc), suggestion_ids=[suggestion.pk]
        )

    return work


def test_two_accepts_at_once_of_different_paragraphs_make_two_versions(team, doc) -> None:
    tuesday = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    apologies = suggest(team.commenter, doc, "Apologies", "replace", "Regrets")
    first, second, waited = one_after_another(
        accepting(team.editor, doc, tuesday),
        accepting(team.manager, doc, apologies),
        first_held_after='"suggestions_suggestion"',
    )
    assert waited, "the second accept did not wait for the first"
    assert (first.number, second.number) == (2, 3)
    assert (first.based_on_number, first.based_on_latest) == (1, True)
    assert (second.based_on_number, second.based_on_latest) == (2, True)
    assert wordedit.paragraphs(version_bytes(second)) == [
        "The board met on Wednesday and agreed the budget.",
        "Regrets were received.",
    ]
    tuesday.refresh_from_db()
    apologies.refresh_from_db()
    assert (tuesday.state, tuesday.accepted_in) == (State.ACCEPTED, first)
    assert (apologies.state, apologies.accepted_in) == (State.ACCEPTED, second)
    assert audit_verify().ok


def test_the_second_accept_of_a_passage_the_first_amended_is_refused_as_outdated(team, doc) -> None:
    tuesday = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    budget = suggest(team.commenter, doc, "budget", "replace", "plan")  # the same paragraph
    first, second, waited = one_after_another(
        accepting(team.editor, doc, tuesday),
        accepting(team.manager, doc, budget),
        first_held_after='"suggestions_suggestion"',
    )
    assert waited
    assert first.number == 2
    assert isinstance(second, Conflict)
    assert "amended in version 2" in second.message
    assert doc.versions.count() == 2
    budget.refresh_from_db()
    assert (budget.state, budget.outdated_in) == (State.OUTDATED, first)
    assert audit_verify().ok


def test_many_accepts_released_together_each_land_once(team) -> None:
    """Five accepts at once, each of a suggestion in its own paragraph: five versions in a row,
    each based on the one before (the latest when it was made), the last with all five."""
    paragraphs = [f"Item {n} stands." for n in range(1, 6)]
    doc = with_preview(team.manager, team.workspace, "items.docx", docx_bytes(*paragraphs))
    chosen = [
        suggest(team.commenter, doc, f"Item {n}", "replace", f"Point {n}") for n in range(1, 6)
    ]
    barrier = threading.Barrier(len(chosen))
    results: list[Any] = [None] * len(chosen)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = accepting(team.editor, doc, chosen[i])()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(chosen))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(v.number for v in results) == [2, 3, 4, 5, 6]
    assert all(v.based_on_latest and v.based_on_number == v.number - 1 for v in results)
    latest = max(results, key=lambda v: v.number)
    assert wordedit.paragraphs(version_bytes(latest)) == [f"Point {n} stands." for n in range(1, 6)]
    assert set(Suggestion.objects.values_list("state", flat=True)) == {State.ACCEPTED}
    assert audit_verify().ok


def test_two_accepts_of_the_same_tracked_changes_at_once_make_one_version(team) -> None:
    """Two people accept all the tracked changes of version 1 at the same moment: the first
    makes version 2; the second, waiting on the first's locks, then finds its file is the same
    as the latest, which the upload path refuses. Nothing is doubled or lost."""
    from commonroom.suggestions.tests.test_tracked_changes import ACCEPTED, tracked

    doc = with_preview(team.manager, team.workspace, "tracked.docx", tracked())

    def accepting_all(user: Any) -> Any:
        return lambda: services.tracked_changes_accept(
            actor=user, doc_access=access(user, doc), number=1
        )

    first, second, waited = one_after_another(
        accepting_all(team.editor),
        accepting_all(team.manager),
        first_held_after='INSERT INTO "documents_version"',
    )
    assert waited
    assert (first.number, first.based_on_number, first.based_on_latest) == (2, 1, True)
    assert isinstance(second, Conflict) and second.code == "same_as_latest"
    assert doc.versions.count() == 2
    assert wordedit.paragraphs(version_bytes(first)) == ACCEPTED
    assert audit_verify().ok
