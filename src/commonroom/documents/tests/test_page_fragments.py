"""The document page's kept fragments (``core.fragments``: the comment threads, the versions,
the preview as shown) are drawn again after every change that changes them, whoever makes it
and however: through the services, or straight through the ORM as another process would (no
request of this process sees it happen: its cache learns of it only from the key it reads);
and no reader is ever shown a fragment drawn for another."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.models import User
from commonroom.comments import services as comments
from commonroom.comments.models import Comment
from commonroom.core.fragments import CACHE, CSRF_HOLE
from commonroom.documents.models import Document, Version
from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import new_version, upload
from commonroom.live.models import Event
from commonroom.previews.models import Preview
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.workspaces.models import Membership

pytestmark = pytest.mark.django_db


def _access(user: Any, doc: Document) -> Any:
    return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)


def _page(user: Any, doc: Document, client: Client | None = None) -> str:
    client = client or Client()
    client.force_login(user)
    response = client.get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert CSRF_HOLE not in html
    return html


def _threads(html: str) -> str:
    start = html.index('<div class="cr-threads"')
    return html[start : html.index('<p class="nhsuk-body-s cr-meta cr-comments__empty">', start)]


def _versions(html: str) -> str:
    start = html.index('<ol class="cr-versions"')
    return html[start : html.index("</ol>", start)]


@pytest.fixture
def doc(team: Any) -> Document:
    caches[CACHE].clear()
    return upload(team.editor, team.workspace, "minutes.txt", b"one").document


def _comment(user: Any, doc: Document, body: str) -> Comment:
    return comments.comment_create(actor=user, doc_access=_access(user, doc), body=body)


def test_each_comment_change_through_the_services_shows_on_the_next_read(
    team: Any, doc: Document
) -> None:
    assert "Nothing yet" not in _threads(_page(team.manager, doc))
    first = _comment(team.commenter, doc, "The figures are late")
    assert "The figures are late" in _threads(_page(team.manager, doc))
    comments.comment_reply(
        actor=team.editor, doc_access=_access(team.editor, doc), comment_id=first.pk, body="Fixed"
    )
    assert "Fixed" in _threads(_page(team.manager, doc))
    comments.comment_edit(
        actor=team.commenter,
        doc_access=_access(team.commenter, doc),
        comment_id=first.pk,
        body="The figures are early",
    )
    shown = _threads(_page(team.manager, doc))
    assert "The figures are early" in shown and "The figures are late" not in shown
    comments.comment_set_resolved(
        actor=team.manager,
        doc_access=_access(team.manager, doc),
        comment_id=first.pk,
        resolved=True,
    )
    assert "cr-thread--resolved" in _threads(_page(team.manager, doc))
    comments.comment_set_resolved(
        actor=team.manager,
        doc_access=_access(team.manager, doc),
        comment_id=first.pk,
        resolved=False,
    )
    assert "cr-thread--resolved" not in _threads(_page(team.manager, doc))
    comments.comment_delete(
        actor=team.commenter, doc_access=_access(team.commenter, doc), comment_id=first.pk
    )
    shown = _threads(_page(team.manager, doc))
    assert "This comment was deleted" in shown and "The figures are early" not in shown


def test_a_comment_changed_by_another_process_shows_once_its_event_is_written(
    team: Any, doc: Document
) -> None:
    """Another process's write is seen here only through the database: the row and its event,
    written in one transaction as the services write them."""
    first = _comment(team.commenter, doc, "Draft wording")
    assert "Draft wording" in _threads(_page(team.manager, doc))
    Comment.objects.filter(pk=first.pk).update(
        body="Final wording", body_html="<p>Final wording</p>"
    )
    Event.objects.create(
        workspace_id=doc.workspace_id,
        kind="comment.updated",
        data={"document": str(doc.pk)},
        origin="elsewhere",
    )
    shown = _threads(_page(team.manager, doc))
    assert "Final wording" in shown and "Draft wording" not in shown


def test_a_name_changed_anywhere_shows_in_the_threads_and_the_versions(
    team: Any, doc: Document
) -> None:
    _comment(team.commenter, doc, "A point")
    html = _page(team.manager, doc)
    assert team.commenter.display_name in _threads(html)
    assert team.editor.display_name in _versions(html)
    # Straight to the database: no save(), no signal, no event.
    User.objects.filter(pk=team.commenter.pk).update(full_name="Samira Khan", kind="guest")
    User.objects.filter(pk=team.editor.pk).update(full_name="Tomasz Nowak")
    html = _page(team.manager, doc)
    threads = _threads(html)
    assert "Samira Khan" in threads and "Guest · example.org" in threads
    assert "Tomasz Nowak" in _versions(html)


def test_each_reader_sees_only_their_own_actions(team: Any, doc: Document) -> None:
    mine = _comment(team.commenter, doc, "Mine")
    edit = f'id="edit-{mine.pk}"'
    own = _threads(_page(team.commenter, doc))
    assert edit in own and "Delete<span" in own and "Resolve<span" in own
    # Another commenter: may reply and resolve, not edit or delete someone else's words.
    other = User.objects.create_user("other@example.org", "pw-12345678-x")
    Membership.objects.create(workspace=team.workspace, user=other, role="commenter")
    theirs = _threads(_page(other, doc))
    assert edit not in theirs and "Delete<span" not in theirs and "Resolve<span" in theirs
    # The manager moderates: deletes, does not edit.
    managed = _threads(_page(team.manager, doc))
    assert edit not in managed and "Delete<span" in managed
    # A viewer reads only.
    read = _threads(_page(team.viewer, doc))
    assert "Mine" in read and "Resolve<span" not in read and "Reply</span>" not in read


def test_a_role_changed_in_the_database_changes_the_forms_shown(team: Any, doc: Document) -> None:
    _comment(team.editor, doc, "A point")
    assert "Resolve<span" in _threads(_page(team.commenter, doc))
    Membership.objects.filter(workspace=team.workspace, user=team.commenter).update(role="viewer")
    assert "Resolve<span" not in _threads(_page(team.commenter, doc))
    # The versions list follows what the reader may do too (restore: managers and editors).
    new_version(team.editor, doc, b"two")
    assert "Restore<span" in _versions(_page(team.editor, doc))
    Membership.objects.filter(workspace=team.workspace, user=team.editor).update(role="viewer")
    assert "Restore<span" not in _versions(_page(team.editor, doc))


def test_each_request_gets_its_own_csrf_token_in_the_kept_forms(team: Any, doc: Document) -> None:
    _comment(team.commenter, doc, "A point")
    new_version(team.editor, doc, b"two")
    field = r'name="csrfmiddlewaretoken" value="([^"]+)"'
    seen = []
    for _ in range(2):
        html = _page(team.manager, doc)
        # The kept forms carry the very token the page's other forms carry (the composer's).
        page = set(re.findall(field, html))
        assert len(page) == 1
        assert set(re.findall(field, _threads(html))) == page
        assert set(re.findall(field, _versions(html))) == page
        seen.append(page)
    assert seen[0] != seen[1]  # a kept fragment never carries an earlier request's token


def test_a_new_version_shows_in_the_list_and_on_the_comments(team: Any, doc: Document) -> None:
    _comment(team.commenter, doc, "On the first")
    html = _page(team.manager, doc)
    assert 'id="v2"' not in _versions(html) and "on version 1" not in _threads(html)
    new_version(team.editor, doc, b"two")
    html = _page(team.manager, doc)
    assert 'id="v2"' in _versions(html) and "on version 1" in _threads(html)


def test_a_version_sealed_in_the_database_shows_as_a_final_record(team: Any, doc: Document) -> None:
    assert "Final record" not in _versions(_page(team.manager, doc))
    version = Version.objects.get(document=doc, number=1)
    Version.objects.filter(pk=version.pk).update(record_at=timezone.now())
    Document.objects.filter(pk=doc.pk).update(sealed_version=version)
    assert "Final record" in _versions(_page(team.manager, doc))


def test_a_preview_made_or_remade_shows_on_the_next_read(team: Any, doc: Document) -> None:
    assert "cr-preview" not in _page(team.manager, doc) or "Minutes<img" not in _page(
        team.manager, doc
    )
    make_ready_preview(doc)  # straight to the database, as a worker's commit
    assert "Minutes<img" in _page(team.manager, doc)
    Preview.objects.filter(blob__versions__document=doc).update(
        html='<p id="p-1">Agenda</p>', made_at=timezone.now()
    )
    html = _page(team.manager, doc)
    assert "Agenda" in html and "Minutes<img" not in html
    # Its HTML rewritten in place, as a hand-made repair would, the time it was made kept.
    Preview.objects.filter(blob__versions__document=doc).update(html='<p id="p-1">Agenda, v2</p>')
    assert "Agenda, v2" in _page(team.manager, doc)


def test_an_anchored_comment_marks_its_passage_in_the_kept_preview(
    team: Any, doc: Document
) -> None:
    make_ready_preview(doc)
    assert "cr-anchors" not in _page(team.manager, doc)
    comments.comment_create(
        actor=team.commenter,
        doc_access=_access(team.commenter, doc),
        body="On this",
        anchor_quote="Minutes",
        anchor_position={"block": "p-1", "start": 0, "end": 7},
    )
    assert 'data-anchor-for="p-1"' in _page(team.manager, doc)


def test_a_reader_in_another_workspace_never_gets_a_kept_fragment(team: Any, doc: Document) -> None:
    _comment(team.commenter, doc, "Inside")
    assert "Inside" in _page(team.manager, doc)
    client = Client()
    client.force_login(team.outsider)
    response = client.get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert response.status_code == 404


def test_a_suggestion_made_and_rejected_shows_in_its_thread_and_the_preview(team: Any) -> None:
    from commonroom.suggestions import services as suggestions
    from commonroom.suggestions.tests.factories import suggest, with_preview

    caches[CACHE].clear()
    doc = with_preview(team.editor, team.workspace, "notes.md", b"The budget is final.\n")
    html = _page(team.manager, doc)
    assert "cr-thread-suggestion" not in _threads(html) and "cr-redline" not in html
    made = suggest(team.commenter, doc, "final", "replace", "draft")
    html = _page(team.manager, doc)
    assert f'data-thread-suggestion="{made.pk}"' in _threads(html)
    assert f'data-redline-for="{made.pk}"' in html  # the open suggestion's mark in the preview
    suggestions.suggestion_reject(
        actor=team.manager, doc_access=_access(team.manager, doc), suggestion_id=made.pk
    )
    html = _page(team.manager, doc)
    assert 'data-state="rejected"' in _threads(html)
    assert f'data-redline-for="{made.pk}"' not in html  # no longer open: no mark


def test_a_member_removed_is_no_longer_offered_as_an_approver(team: Any, doc: Document) -> None:
    box = f'id="approver-{team.commenter.pk}"'
    assert box in _page(team.manager, doc)
    Membership.objects.filter(workspace=team.workspace, user=team.commenter).delete()
    assert box not in _page(team.manager, doc)


def test_a_page_read_again_unchanged_reuses_its_threads_and_a_change_draws_them_again(
    team: Any, doc: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the fragments are for: the threads drawn once while nothing they show changes, and
    again after a change (here a comment)."""
    from commonroom.comments import receivers

    drawn: list[str] = []
    threads_html = receivers._threads_html

    def counted(*args: Any) -> str:
        drawn.append("threads")
        return threads_html(*args)

    monkeypatch.setattr(receivers, "_threads_html", counted)
    _comment(team.commenter, doc, "First thoughts")
    tokens = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    first = tokens.sub("", _threads(_page(team.manager, doc)))
    assert drawn == ["threads"]
    assert tokens.sub("", _threads(_page(team.manager, doc))) == first  # each its own token
    assert drawn == ["threads"]  # kept: not drawn again
    _comment(team.commenter, doc, "Second thoughts")
    assert "Second thoughts" in _threads(_page(team.manager, doc))
    assert drawn == ["threads", "threads"]


def _statements(user: Any, doc: Document) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    url = reverse("document_detail", args=[doc.workspace_id, doc.pk])
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_the_page_reads_each_name_and_the_newest_event_once(team: Any, doc: Document) -> None:
    """The threads and the versions name the same people: their names are checked with one
    read between them, or none when the page has read the members; the newest event the page
    noted before its view began keys every fragment, not read again."""
    _comment(team.editor, doc, "A point")
    for reader, reads in ((team.commenter, 1), (team.manager, 0)):
        read = _statements(reader, doc)
        names = [q for q in read if q.startswith('SELECT "accounts_user"."id" AS "pk"')]
        # The manager's page reads the members (who may be asked to approve, who has read
        # it): their names are taken from those rows.
        assert len(names) == reads, names
        assert sum('FROM "live_event"' in q for q in read) == 1


def test_a_name_changed_between_two_reads_of_the_page_shows_on_the_second(
    team: Any, doc: Document
) -> None:
    """Names read once a page, never kept from one request to the next."""
    _comment(team.editor, doc, "A point")
    assert team.editor.display_name in _threads(_page(team.manager, doc))
    User.objects.filter(pk=team.editor.pk).update(full_name="Tomasz Nowak")
    html = _page(team.manager, doc)
    assert "Tomasz Nowak" in _threads(html) and "Tomasz Nowak" in _versions(html)
    # Read from the members' rows (the manager's page reads them): the same.
    User.objects.filter(pk=team.editor.pk).update(full_name="Tomasz Nowak-Lee")
    html = _page(team.manager, doc)
    assert "Tomasz Nowak-Lee" in _threads(html) and "Tomasz Nowak-Lee" in _versions(html)


def _suggestions(html: str) -> str:
    start = html.index('<section class="cr-suggestions"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def noted(team: Any) -> Document:
    from commonroom.suggestions.tests.factories import with_preview

    caches[CACHE].clear()
    return with_preview(team.editor, team.workspace, "notes.md", b"The budget is final.\n")


def _drawn(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str]:
    """Each drawing of ``module.name`` (a fragment's builder), noted."""
    drawn: list[str] = []
    build = getattr(module, name)

    def counted(*args: Any) -> Any:
        drawn.append(name)
        return build(*args)

    monkeypatch.setattr(module, name, counted)
    return drawn


def test_the_suggestions_section_is_kept_and_drawn_again_after_each_suggestion_change(
    team: Any, noted: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commonroom.suggestions import receivers
    from commonroom.suggestions import services as suggestions
    from commonroom.suggestions.tests.factories import suggest

    drawn = _drawn(monkeypatch, receivers, "_section_html")
    assert "cr-suggestion cr-suggestion--" not in _suggestions(_page(team.manager, noted))
    _page(team.manager, noted)
    assert len(drawn) == 1  # kept: not drawn again
    made = suggest(team.commenter, noted, "final", "replace", "draft")
    shown = _suggestions(_page(team.manager, noted))
    assert f'id="suggestion-{made.pk}"' in shown and "Open, on version 1." in shown
    assert f'id="choose-{made.pk}"' in shown  # the manager decides
    assert len(drawn) == 2
    suggestions.suggestion_reject(
        actor=team.manager,
        doc_access=_access(team.manager, noted),
        suggestion_id=made.pk,
        reason="Not now",
    )
    shown = _suggestions(_page(team.manager, noted))
    assert "Rejected: Not now" in shown and f'id="choose-{made.pk}"' not in shown


def test_a_suggestion_changed_by_another_process_shows_once_its_event_is_written(
    team: Any, noted: Document
) -> None:
    from django.apps import apps

    from commonroom.suggestions.tests.factories import suggest

    Suggestion = apps.get_model("suggestions", "Suggestion")  # as another process reads it

    made = suggest(team.commenter, noted, "final", "replace", "draft")
    assert "Open, on version 1." in _suggestions(_page(team.manager, noted))
    # Straight through the ORM, with its event, as another process's transaction writes them.
    Suggestion.objects.filter(pk=made.pk).update(
        state="rejected", decision_reason="Out of scope", decided_by=team.manager,
        decided_at=timezone.now(),
    )  # fmt: skip
    Event.objects.create(
        workspace_id=noted.workspace_id,
        kind="suggestion.rejected",
        data={"document": str(noted.pk)},
        origin="elsewhere",
    )
    shown = _suggestions(_page(team.manager, noted))
    assert "Rejected: Out of scope" in shown and "Open, on version 1." not in shown


def test_the_suggestions_section_follows_each_reader_and_their_role(
    team: Any, noted: Document
) -> None:
    from commonroom.suggestions.tests.factories import suggest

    made = suggest(team.commenter, noted, "final", "replace", "draft")
    choose = f'id="choose-{made.pk}"'
    assert choose in _suggestions(_page(team.editor, noted))  # editors decide
    commenter = _suggestions(_page(team.commenter, noted))
    assert choose not in commenter and 'id="suggest"' in commenter  # may suggest, not decide
    assert 'id="suggest"' not in _suggestions(_page(team.viewer, noted))
    # A role changed straight in the database: what the editor may do follows at once.
    Membership.objects.filter(workspace=team.workspace, user=team.editor).update(role="viewer")
    shown = _suggestions(_page(team.editor, noted))
    assert choose not in shown and 'id="suggest"' not in shown


def test_the_suggestions_section_follows_names_and_new_versions(team: Any, noted: Document) -> None:
    from commonroom.suggestions.tests.factories import suggest

    suggest(team.commenter, noted, "final", "replace", "draft")
    assert team.commenter.display_name in _suggestions(_page(team.manager, noted))
    User.objects.filter(pk=team.commenter.pk).update(full_name="Samira Khan")
    assert "Samira Khan" in _suggestions(_page(team.manager, noted))
    new_version(team.editor, noted, b"The budget is agreed.\n")
    shown = _suggestions(_page(team.manager, noted))
    assert 'name="on_version" value="2"' in shown


def _approvals(html: str) -> str:
    start = html.index('<section class="cr-approvals"')
    return html[start : html.index("</section>", start)]


def _ask(team: Any, doc: Document, *people: Any) -> Any:
    from commonroom.approvals import services as approvals

    return approvals.approval_request_create(
        actor=team.manager,
        doc_access=_access(team.manager, doc),
        version_number=doc.current_version_number,
        approver_ids=[p.pk for p in people],
    )


def test_the_approvals_section_is_kept_and_drawn_again_after_each_request_change(
    team: Any, doc: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commonroom.approvals import services as approvals

    asked = 'id="ask-approval"'
    drawn = _drawn(monkeypatch, approvals_receivers(), "render_to_string")
    assert asked in _approvals(_page(team.manager, doc))
    _page(team.manager, doc)
    assert len(drawn) == 1  # kept: not drawn again
    made = _ask(team, doc, team.commenter, team.editor)
    shown = _approvals(_page(team.manager, doc))
    assert f'id="approval-{made.pk}"' in shown and asked not in shown  # one open at a time
    assert "0 of 2 approvals" in shown
    # The commenter is asked: they may decide, the manager may not.
    assert "Approve version 1" in _approvals(_page(team.commenter, doc))
    assert "Approve version 1" not in shown
    approvals.approval_decide(
        actor=team.commenter,
        doc_access=_access(team.commenter, doc),
        request_id=made.pk,
        approve=False,
        reason="Figures missing",
    )
    shown = _approvals(_page(team.manager, doc))
    assert "Figures missing" in shown and "Declined" in shown and asked in shown


def approvals_receivers() -> Any:
    from commonroom.approvals import receivers

    return receivers


def test_an_approval_changed_by_another_process_shows_once_its_event_is_written(
    team: Any, doc: Document
) -> None:
    from django.apps import apps

    Approver = apps.get_model("approvals", "Approver")  # as another process reads it
    made = _ask(team, doc, team.commenter)
    assert "Waiting" in _approvals(_page(team.manager, doc))
    Approver.objects.filter(request_id=made.pk, user=team.commenter).update(
        decision="declined", reason="Not ready", decided_at=timezone.now()
    )
    Event.objects.create(
        workspace_id=doc.workspace_id,
        kind="approval.decided",
        data={"document": str(doc.pk)},
        origin="elsewhere",
    )
    shown = _approvals(_page(team.manager, doc))
    assert "Not ready" in shown and "Waiting" not in shown


def test_the_approvals_section_follows_members_roles_and_names(team: Any, doc: Document) -> None:
    """What changes without an event: who may be asked (a member added, a role changed), a
    name, the reader's own role."""
    box = f'id="approver-{team.viewer.pk}"'
    assert box not in _approvals(_page(team.manager, doc))  # viewers may not approve
    # Two roles swapped: as many to choose from, not the same people.
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).update(role="commenter")
    Membership.objects.filter(workspace=team.workspace, user=team.commenter).update(role="viewer")
    shown = _approvals(_page(team.manager, doc))
    assert box in shown and f'id="approver-{team.commenter.pk}"' not in shown
    Membership.objects.filter(workspace=team.workspace, user=team.commenter).update(
        role="commenter"
    )
    User.objects.filter(pk=team.viewer.pk).update(full_name="Vera Lynn")
    assert "Vera Lynn" in _approvals(_page(team.manager, doc))
    newcomer = User.objects.create_user("newcomer@example.org", "pw-12345678-x")
    Membership.objects.create(workspace=team.workspace, user=newcomer, role="commenter")
    assert f'id="approver-{newcomer.pk}"' in _approvals(_page(team.manager, doc))
    # The manager made a viewer straight in the database: may no longer change the request.
    made = _ask(team, doc, team.commenter)
    assert "Change this request" in _approvals(_page(team.manager, doc))
    Membership.objects.filter(workspace=team.workspace, user=team.manager).update(role="viewer")
    shown = _approvals(_page(team.manager, doc))
    assert f'id="approval-{made.pk}"' in shown and "Change this request" not in shown


def _readers(html: str) -> str:
    start = html.index('<section class="cr-readers"')
    return html[start : html.index("</section>", start)]


def test_who_has_read_it_follows_every_receipt_member_and_name_however_written(
    team: Any, doc: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readers' lists are kept under everything they show: a receipt, a member or a name
    written straight to the database (no event, no signal) draws them again."""
    from commonroom.documents.models import VersionRead
    from commonroom.documents.templatetags import reader_items

    drawn = _drawn(monkeypatch, reader_items, "_drawn")
    shown = _readers(_page(team.manager, doc))
    assert "0 of 4 members have read version 1" in shown
    _page(team.manager, doc)
    assert len(drawn) == 1  # kept (the one list with people in it): not drawn again
    version = Version.objects.get(document=doc, number=1)
    VersionRead.objects.create(
        version=version, document=doc, reader=team.commenter, read_by="download"
    )
    shown = _readers(_page(team.manager, doc))
    assert "1 of 4 members have read version 1" in shown
    read = shown[shown.index("data-readers-read") : shown.index("data-readers-unread")]
    assert team.commenter.display_name in read and "Downloaded it" in read
    # A receipt's way of reading changed in place (as a later preview reading might).
    VersionRead.objects.filter(reader=team.commenter).update(read_by="preview")
    read = _readers(_page(team.manager, doc))
    assert "Downloaded it" not in read and "Read its preview" in read
    newcomer = User.objects.create_user("newcomer@example.org", "pw-12345678-x")
    Membership.objects.create(workspace=team.workspace, user=newcomer, role="viewer")
    assert "newcomer@example.org" in _readers(_page(team.manager, doc))
    User.objects.filter(pk=newcomer.pk).update(full_name="Nadia Newcomer", kind="guest")
    shown = _readers(_page(team.manager, doc))
    assert "Nadia Newcomer" in shown and "Guest · example.org" in shown
    Membership.objects.filter(workspace=team.workspace, user=newcomer).delete()
    assert "Nadia Newcomer" not in _readers(_page(team.manager, doc))
