"""Who may suggest, accept and reject, per role: manager, editor, commenter, viewer, an external
guest (by the role they were given), and someone who is not a member (404: they cannot know the
document exists). Checked through the services, and through the abilities the pages will read."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.accounts.tests.factories import GuestFactory
from commonroom.core.exceptions import NotFound, PermissionDenied
from commonroom.suggestions import services
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.permissions import may_decide, may_suggest, suggestion_abilities
from commonroom.suggestions.tests.factories import access, docx_bytes, suggest, with_preview
from commonroom.workspaces.tests.factories import add_member

pytestmark = pytest.mark.django_db

# role -> (may suggest, may decide); None: not a member
MATRIX = {
    "manager": (True, True),
    "editor": (True, True),
    "commenter": (True, False),
    "viewer": (False, False),
    "guest commenter": (True, False),
    "guest viewer": (False, False),
    "non-member": None,
}


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(
        team.manager, team.workspace, "minutes.docx", docx_bytes("The board met on Tuesday.")
    )


def person(team: Any, role: str) -> Any:
    if role.startswith("guest"):
        return add_member(team.workspace, GuestFactory(), role.split()[1])
    return team.by_role[role]


@pytest.mark.parametrize("role", MATRIX)
def test_who_may_suggest(team, doc, role: str) -> None:
    user = person(team, role)
    expected = MATRIX[role]
    if expected is None:
        with pytest.raises(NotFound):
            suggest(user, doc, "Tuesday", "replace", "Wednesday")
        return
    assert may_suggest(access(user, doc), doc.versions.get()) is expected[0]
    if expected[0]:
        suggestion = suggest(user, doc, "Tuesday", "replace", "Wednesday")
        assert suggestion.author == user and suggestion.state == State.OPEN
    else:
        with pytest.raises(PermissionDenied, match="not suggest"):
            suggest(user, doc, "Tuesday", "replace", "Wednesday")
        assert not Suggestion.objects.exists()


@pytest.mark.parametrize("role", MATRIX)
@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_who_may_accept_and_reject(team, doc, role: str, decision: str) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    user = person(team, role)
    expected = MATRIX[role]

    def decide() -> Any:
        if decision == "accept":
            return services.suggestions_accept(
                actor=user, doc_access=access(user, doc), suggestion_ids=[suggestion.pk]
            )
        return services.suggestion_reject(
            actor=user, doc_access=access(user, doc), suggestion_id=suggestion.pk
        )

    if expected is None:
        with pytest.raises(NotFound):
            decide()
    elif expected[1]:
        assert may_decide(access(user, doc))
        assert suggestion_abilities(access(user, doc), suggestion) == {
            "accept": True,
            "reject": True,
        }
        decide()
        suggestion.refresh_from_db()
        assert suggestion.state == (State.ACCEPTED if decision == "accept" else State.REJECTED)
        assert suggestion.decided_by == user
    else:
        assert not may_decide(access(user, doc))
        assert suggestion_abilities(access(user, doc), suggestion) == {
            "accept": False,
            "reject": False,
        }
        with pytest.raises(PermissionDenied, match="managers and editors"):
            decide()
        suggestion.refresh_from_db()
        assert suggestion.state == State.OPEN and suggestion.decided_by is None
        assert doc.versions.count() == 1


def test_a_decided_suggestion_offers_no_decision(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    services.suggestion_reject(
        actor=team.editor, doc_access=access(team.editor, doc), suggestion_id=suggestion.pk
    )
    suggestion.refresh_from_db()
    assert suggestion_abilities(access(team.manager, doc), suggestion) == {
        "accept": False,
        "reject": False,
    }


def test_a_member_demoted_after_reading_the_page_is_refused_under_the_lock(team, doc) -> None:
    from commonroom.workspaces import services as workspaces
    from commonroom.workspaces.models import Membership

    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    editor_access = access(team.editor, doc)  # read while still an editor
    membership = Membership.objects.get(workspace=team.workspace, user=team.editor)
    workspaces.membership_change_role(
        actor=team.manager,
        access=access(team.manager, doc).access,
        membership_id=membership.pk,
        role="commenter",
    )
    with pytest.raises(PermissionDenied):
        services.suggestions_accept(
            actor=team.editor, doc_access=editor_access, suggestion_ids=[suggestion.pk]
        )
    assert doc.versions.count() == 1
