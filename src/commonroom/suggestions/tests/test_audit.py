"""Suggestions are audited (suggested, accepted, rejected, outdated; a Word version's tracked
changes accepted), each row on the workspace's chain naming the document, and written LAST in
its transaction: from the first touch of the chain's head to the commit, only audit rows and
the head are written (see audit/tests/test_written_last.py). Each case runs a real service and
reads the SQL it sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.tests.test_written_last import after_the_head
from commonroom.documents.tests.factories import new_version
from commonroom.suggestions import services
from commonroom.suggestions.tests.factories import (
    access,
    docx_bytes,
    make_preview,
    suggest,
    where,
    with_preview,
)

pytestmark = pytest.mark.django_db

TEXT = ("The board met on Tuesday.", "Apologies: none.")


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", docx_bytes(*TEXT))


def case_create(team: Any, doc: Any) -> Callable[[], object]:
    place = where(doc, "Tuesday")
    return lambda: services.suggestion_create(
        actor=team.commenter, doc_access=access(team.commenter, doc), kind="replace",
        text="Monday", **place,
    )  # fmt: skip


def case_create_outdated_at_once(team: Any, doc: Any) -> Callable[[], object]:
    place = where(doc, "Tuesday")
    new_version(team.editor, doc, docx_bytes("Other text."))
    return lambda: services.suggestion_create(
        actor=team.commenter, doc_access=access(team.commenter, doc), kind="replace",
        text="Monday", **place,
    )  # fmt: skip


def case_accept(team: Any, doc: Any) -> Callable[[], object]:
    first = suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    suggest(team.commenter, doc, "The board", "replace", "We")  # outdated by the accept
    return lambda: services.suggestions_accept(
        actor=team.editor, doc_access=access(team.editor, doc), suggestion_ids=[first.pk]
    )


def case_reject(team: Any, doc: Any) -> Callable[[], object]:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    return lambda: services.suggestion_reject(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        suggestion_id=suggestion.pk,
        reason="No",
    )


def case_outdated_by_an_upload(team: Any, doc: Any) -> Callable[[], object]:
    suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    return lambda: new_version(team.editor, doc, docx_bytes("Other text."))


def case_tracked_changes_accepted(team: Any, doc: Any) -> Callable[[], object]:
    from datetime import UTC, datetime

    from commonroom.office.wordedit import Change, Revision, with_tracked_changes

    when = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    change = Change(TEXT[0], TEXT[0].index("Tuesday"), len(TEXT[0]) - 1, "Monday")
    new_version(
        team.editor, doc, with_tracked_changes(docx_bytes(*TEXT), [Revision(change, "Kim", when)])
    )
    return lambda: services.tracked_changes_accept(
        actor=team.editor, doc_access=access(team.editor, doc), number=2
    )


def case_carry(team: Any, doc: Any) -> Callable[[], object]:
    make_preview(new_version(team.editor, doc, docx_bytes("The board met in May.", TEXT[1])))
    new_version(team.editor, doc, docx_bytes(TEXT[0], "Apologies: Ann."), based_on_number=1)
    return lambda: services.stale_copy_carry(
        actor=team.manager, doc_access=access(team.manager, doc), number=3
    )


CASES = {
    "create": (case_create, [Action.SUGGESTION_CREATED]),
    "create outdated at once": (
        case_create_outdated_at_once,
        [Action.SUGGESTION_CREATED, Action.SUGGESTION_OUTDATED],
    ),
    # Deciding resolves the suggestion's thread through comments' service: audited as any
    # resolve, after the decision's own rows.
    "accept": (
        case_accept,
        [
            Action.SUGGESTION_OUTDATED,
            Action.VERSION_UPLOADED,
            Action.SUGGESTION_ACCEPTED,
            Action.COMMENT_RESOLVED,
        ],
    ),
    "reject": (case_reject, [Action.SUGGESTION_REJECTED, Action.COMMENT_RESOLVED]),
    "tracked changes accepted": (
        case_tracked_changes_accepted,
        [Action.VERSION_UPLOADED, Action.TRACKED_CHANGES_ACCEPTED],
    ),
    # Carrying a stale copy's changes runs a restore and a suggestion's creation: all their
    # rows come after every other write, the carry's own last.
    "carry": (
        case_carry,
        [
            Action.VERSION_RESTORED,
            Action.SUGGESTION_CREATED,
            Action.SUGGESTIONS_CARRIED,
        ],
    ),
    "outdated by an upload": (
        case_outdated_by_an_upload,
        [Action.SUGGESTION_OUTDATED, Action.VERSION_UPLOADED],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_audited_last_on_the_workspaces_chain(team, doc, name: str) -> None:
    make, actions = CASES[name]
    work = make(team, doc)
    chain = AuditEvent.objects.filter(workspace_id=team.workspace.pk)
    before = chain.order_by("-seq").values_list("seq", flat=True).first() or 0
    with CaptureQueriesContext(connection) as captured:
        work()
    written = chain.filter(seq__gt=before).order_by("seq")
    mine = [e.action for e in written if e.action != Action.COMMENT_CREATED]
    assert mine == actions
    assert all(e.document_id == doc.pk for e in written)
    late = after_the_head([q["sql"] for q in captured.captured_queries])
    assert late == [], f"{name} wrote after touching its audit chain's head: {late}"
    assert audit_verify().ok
