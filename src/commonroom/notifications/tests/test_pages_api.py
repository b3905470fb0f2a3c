"""Pages and API: the list, opening, marking read, settings, following, the header badge, the
home page's "what needs me"; someone else's notification does not exist (404)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from commonroom.notifications.models import Follow, Notification, NotificationSettings
from commonroom.notifications.tests.factories import (
    make_notification,
    post_comment,
    write_comment,
)
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import upload_document


@pytest.fixture
def doc(team):
    return upload_document(team.workspace, team.manager, name="minutes.docx")


def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_list_shows_mine_only_newest_first(client, team, doc):
    make_notification(team.editor, doc, summary="Older one")
    make_notification(team.editor, doc, summary="Newer one")
    make_notification(team.viewer, doc, summary="Not for Tom")
    page = signed_in(client, team.editor).get(reverse("notification_list")).content.decode()
    assert page.index("Newer one") < page.index("Older one")
    assert "Not for Tom" not in page


def test_opening_marks_read_and_goes_to_the_target(client, team, doc):
    n = make_notification(
        team.editor, doc, target_url=f"/w/{team.workspace.pk}/d/{doc.pk}/#thread-x"
    )
    response = signed_in(client, team.editor).get(reverse("notification_open", args=[n.pk]))
    assert response.status_code == 302
    assert response["Location"] == n.target_url
    n.refresh_from_db()
    assert n.read_at is not None


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]
)
def test_opening_never_leaves_the_site(client, team, doc, target):
    n = make_notification(team.editor, doc, target_url=target)
    response = signed_in(client, team.editor).post(reverse("notification_open", args=[n.pk]))
    assert response["Location"] == reverse("notification_list")


def test_someone_elses_notification_is_not_found(client, team, doc):
    n = make_notification(team.editor, doc)
    c = signed_in(client, team.viewer)
    assert c.get(reverse("notification_open", args=[n.pk])).status_code == 404
    assert c.get(reverse("notification_open", args=[uuid.uuid4()])).status_code == 404
    n.refresh_from_db()
    assert n.read_at is None


def test_notifications_of_a_workspace_one_left_are_hidden(client, team, doc):
    n = make_notification(team.viewer, doc, summary="From the old workspace")
    Membership.objects.filter(user=team.viewer).delete()
    c = signed_in(client, team.viewer)
    assert "From the old workspace" not in c.get(reverse("notification_list")).content.decode()
    assert c.get(reverse("notification_open", args=[n.pk])).status_code == 404


def test_read_all_and_the_badge(client, team, doc):
    make_notification(team.editor, doc)
    make_notification(team.editor, doc)
    c = signed_in(client, team.editor)
    page = c.get(reverse("home")).content.decode()
    assert '<span class="cr-badge"><span data-unread="notifications">2</span>' in page
    assert "unread notifications" in page
    assert c.post(reverse("notification_read_all")).status_code == 302
    assert not Notification.objects.filter(recipient=team.editor, read_at__isnull=True).exists()
    page = c.get(reverse("home")).content.decode()
    # No "0" bubble: the badge is hidden (live.js shows it again when a notification arrives).
    assert '<span class="cr-badge" hidden><span data-unread="notifications">0</span>' in page


def test_a_hidden_badge_is_not_displayed():
    """``.cr-badge { display: inline-block }`` would beat the ``hidden`` attribute."""
    from pathlib import Path

    import commonroom

    css = (Path(commonroom.__file__).parent / "static/commonroom/app.css").read_text()
    # Every selector of every rule that says "display: none", however the rules are grouped.
    hiding = {
        selector.strip()
        for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
        if re.search(r"display:\s*none", body)
        for selector in selectors.split(",")
    }
    assert {".cr-badge[hidden]", ".cr-unread[hidden]"} <= hiding


def test_the_badge_costs_one_query(client, team, doc, django_assert_num_queries):
    from django.test import RequestFactory

    from commonroom.notifications.context_processors import unread

    request = RequestFactory().get("/")
    request.user = team.editor
    count = unread(request)["unread_notifications"]
    with django_assert_num_queries(1):
        assert count() == 0
        assert count() == 0


def test_settings_page(client, team):
    c = signed_in(client, team.editor)
    page = c.get(reverse("notification_settings")).content.decode()
    assert 'value="digest" checked' in page
    response = c.post(reverse("notification_settings"), {"email": "immediate"})
    assert response.status_code == 302
    assert NotificationSettings.objects.get(user=team.editor).email == "immediate"
    c.post(reverse("notification_settings"), {"email": "hourly"})
    assert NotificationSettings.objects.get(user=team.editor).email == "immediate"


def test_settings_say_what_none_means_without_contradiction(client, team):
    c = signed_in(client, team.editor)
    c.post(reverse("notification_settings"), {"email": "none"})
    assert NotificationSettings.objects.get(user=team.editor).email == "none"
    page = c.get(reverse("notification_settings")).content.decode()
    assert "Never" not in page
    assert (
        'value="none" checked aria-describedby="email-none-hint">\n'
        '          <label class="nhsuk-label nhsuk-radios__label" for="email-none">'
        "Only mentions, in a daily digest</label>"
    ) in page
    assert 'id="email-none-hint">No email about new comments' in page


def test_follow_and_unfollow_from_the_document_page(client, team, doc):
    c = signed_in(client, team.viewer)
    page_url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    assert ">Follow<" in c.get(page_url).content.decode()
    url = reverse("document_follow", args=[team.workspace.pk, doc.pk])
    assert c.post(url, {"action": "follow"})["Location"] == page_url
    assert Follow.objects.filter(user=team.viewer, document=doc).exists()
    assert "Stop following" in c.get(page_url).content.decode()
    c.post(url, {"action": "unfollow"})
    assert not Follow.objects.filter(user=team.viewer, document=doc).exists()
    assert signed_in(client, team.outsider).post(url, {"action": "follow"}).status_code == 404


# --- Home: what needs me ----------------------------------------------------------------------


def test_home_shows_mentions_waiting_threads_and_changed_documents(client, team, doc):
    # A mention of Tom; a thread Tom took part in, answered by someone else since.
    post_comment(doc, team.commenter, "@tom the agency figure?", mentioned=[team.editor])
    root = post_comment(doc, team.editor, "Who has the agency figure?")
    post_comment(doc, team.commenter, "Finance has it", thread=root)
    mine_last = post_comment(doc, team.editor, "My own last word")
    # Tom saw version 1; the manager then uploads version 2.
    c = signed_in(client, team.editor)
    c.get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    upload_document(team.workspace, team.manager, name="minutes.docx", content=b"v2")
    # A document Tom follows but never opened counts as changed; one he never opened, not.
    other = upload_document(team.workspace, team.manager, name="agenda.docx")
    Follow.objects.create(user=team.editor, document=other)
    upload_document(team.workspace, team.manager, name="unrelated.docx")

    page = c.get(reverse("home")).content.decode()
    assert "Mentions" in page and "mentioned you on minutes.docx" in page
    assert "Threads waiting for you" in page and "Who has the agency figure?" in page
    assert "My own last word" not in page
    assert f"#thread-{root.pk}" in page and f"#thread-{mine_last.pk}" not in page
    changed = page[page.index("Changed since you last looked") :]
    assert "minutes.docx" in changed and "you last saw version 1" in changed
    assert "agenda.docx" in changed and "unrelated.docx" not in changed

    # Once Tom looks at version 2 it is no longer changed.
    c.get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    changed = c.get(reverse("home")).content.decode()
    assert "you last saw version" not in changed


def test_home_sections_are_bounded(client, team, doc):
    for i in range(12):
        make_notification(team.editor, doc, summary=f"Mention number {i}")
    page = signed_in(client, team.editor).get(reverse("home")).content.decode()
    assert page.count("Mention number") == 10


def test_waiting_threads_are_bounded_to_the_ten_most_recently_answered(client, team, doc):
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.notifications.selectors import HOME_LIMIT, threads_waiting

    asked = timezone.now() - timedelta(hours=1)
    for i in range(HOME_LIMIT + 2):
        root = write_comment(doc, team.editor, f"Question number {i:02}")
        root.created_at = asked + timedelta(seconds=i)
        root.save(update_fields=["created_at"])
        reply = write_comment(doc, team.commenter, "Answer", thread=root)
        # Answered in the reverse order of asking: the answer decides the order.
        reply.created_at = asked + timedelta(minutes=HOME_LIMIT + 2 - i)
        reply.save(update_fields=["created_at"])
    newest_first = [f"Question number {i:02}" for i in range(HOME_LIMIT)]
    assert [t.text for t in threads_waiting(user=team.editor)] == newest_first
    page = signed_in(client, team.editor).get(reverse("home")).content.decode()
    waiting = page[page.index("Threads waiting for you") :]
    assert waiting.count("Question number") == HOME_LIMIT
    assert "Question number 10" not in waiting and "Question number 11" not in waiting


def test_resolved_threads_are_not_waiting(client, team, doc):
    from django.utils import timezone

    root = post_comment(doc, team.editor, "Question")
    post_comment(doc, team.commenter, "Answer", thread=root)
    root.resolved_at = timezone.now()
    root.save()
    page = signed_in(client, team.editor).get(reverse("home")).content.decode()
    assert "Threads waiting for you" not in page


def test_waiting_threads_show_words_not_markdown(client, team, doc):
    from commonroom.comments import services as comments
    from commonroom.documents.selectors import document_access

    def access(user):
        return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)

    root = comments.comment_create(
        actor=team.editor, doc_access=access(team.editor), body="Is the **agency** figure _final_?"
    )
    comments.comment_reply(
        actor=team.commenter, doc_access=access(team.commenter), comment_id=root.pk, body="Yes"
    )
    page = signed_in(client, team.editor).get(reverse("home")).content.decode()
    waiting = page[page.index("Threads waiting for you") :]
    assert "minutes.docx: “Is the agency figure final?”" in waiting
    assert "**" not in waiting


# --- API --------------------------------------------------------------------------------------


def api(client, user):
    client.force_login(user)
    return client


def test_api_lists_mine_with_the_unread_count(client, team, doc):
    read = make_notification(team.editor, doc, summary="Read one")
    read.read_at = read.created_at
    read.save()
    make_notification(team.editor, doc, summary="Unread one")
    make_notification(team.viewer, doc, summary="Someone else's")
    c = api(client, team.editor)
    data = c.get("/api/v1/notifications").json()
    assert data["unread"] == 1
    assert [n["summary"] for n in data["items"]] == ["Unread one", "Read one"]
    assert data["items"][0]["document_id"] == str(doc.pk)
    only = c.get("/api/v1/notifications?unread=true").json()
    assert [n["summary"] for n in only["items"]] == ["Unread one"]


def test_api_marks_read_and_others_are_404(client, team, doc):
    from django.test import Client

    mine = make_notification(team.editor, doc)
    theirs = make_notification(team.viewer, doc)
    c = Client()
    c.force_login(team.editor)
    assert c.post(f"/api/v1/notifications/{mine.pk}/read").status_code == 204
    assert c.post(f"/api/v1/notifications/{theirs.pk}/read").status_code == 404
    assert c.post("/api/v1/notifications/not-a-uuid/read").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    make_notification(team.editor, doc)
    assert c.post("/api/v1/notifications/read").status_code == 204
    assert c.get("/api/v1/notifications").json()["unread"] == 0


def test_api_settings(client, team):
    c = api(client, team.editor)
    assert c.get("/api/v1/account/notification-settings").json() == {
        "email": "digest",
        "last_digest_at": None,
    }
    response = c.put(
        "/api/v1/account/notification-settings", {"email": "none"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["email"] == "none"
    bad = c.put(
        "/api/v1/account/notification-settings",
        {"email": "hourly"},
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_api_follow(client, team, doc):
    url = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/follow"
    c = api(client, team.viewer)
    assert c.put(url).status_code == 204
    assert c.put(url).status_code == 204
    assert Follow.objects.filter(user=team.viewer, document=doc).count() == 1
    assert c.delete(url).status_code == 204
    assert not Follow.objects.filter(user=team.viewer, document=doc).exists()
    assert api(client, team.outsider).put(url).status_code == 404


def test_removed_while_the_request_was_in_flight_follows_and_unfollows_nothing(team, doc):
    """The page or API call read the person's access, then they were removed: the service reads
    the membership again and answers 404 (the follow the person had stays, and stays silent)."""
    from commonroom.core.exceptions import NotFound
    from commonroom.documents.selectors import document_access
    from commonroom.notifications import services

    access = document_access(user=team.viewer, workspace_id=team.workspace.pk, document_id=doc.pk)
    services.follow(user=team.viewer, doc_access=access)
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
    with pytest.raises(NotFound):
        services.unfollow(user=team.viewer, doc_access=access)
    assert Follow.objects.filter(user=team.viewer, document=doc).exists()
    Follow.objects.filter(user=team.viewer).delete()
    with pytest.raises(NotFound):
        services.follow(user=team.viewer, doc_access=access)
    assert not Follow.objects.filter(user=team.viewer).exists()


def test_the_badges_count_is_unread_rows_in_workspaces_the_person_is_in_now(team, doc):
    """``unread_count`` (one person, every page's header) says what ``unread_counts`` (any
    number of people) says: unread, theirs, in workspaces they are a member of today."""
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.notifications.selectors import unread_count, unread_counts
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.manager, name="Elsewhere")
    Membership.objects.create(workspace=other, user=team.editor, role="editor")
    elsewhere = upload_document(other, team.manager, name="agenda.docx")
    for _ in range(2):
        make_notification(team.editor, doc)
    make_notification(team.editor, elsewhere)
    read = make_notification(team.editor, doc)
    read.read_at = timezone.now()
    read.save()
    make_notification(team.viewer, doc)
    people = [team.editor, team.viewer, team.commenter]

    def both() -> list[tuple[int, int]]:
        counts = unread_counts([p.pk for p in people])
        return [(unread_count(p), counts[p.pk]) for p in people]

    assert both() == [(3, 3), (1, 1), (0, 0)]
    membership = Membership.objects.get(workspace=other, user=team.editor)
    membership.access_until = timezone.localdate()  # ends tonight: still a member today
    membership.save()
    assert both() == [(3, 3), (1, 1), (0, 0)]
    membership.access_until = timezone.localdate() - timedelta(days=1)
    membership.save()
    assert both() == [(2, 2), (1, 1), (0, 0)]
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
    assert both() == [(2, 2), (0, 0), (0, 0)]


def test_the_badge_follows_every_write_and_the_day_it_is_asked_on(team, doc, monkeypatch):
    """The badge's count is built once per process (``core.prepared``) from the one definition
    of a visible notification: it still counts each write made straight in the database, as
    another process makes it, and a membership that ended at midnight stops counting the next
    day in the same process, the same as ``unread_counts`` and the list."""
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.notifications.selectors import (
        unread_count,
        unread_counts,
        visible_notifications,
    )

    def all_three() -> tuple[int, int, int]:
        listed = visible_notifications(team.editor).filter(read_at__isnull=True).count()
        return unread_count(team.editor), unread_counts([team.editor.pk])[team.editor.pk], listed

    assert all_three() == (0, 0, 0)
    first = make_notification(team.editor, doc)
    make_notification(team.editor, doc)
    make_notification(team.viewer, doc)
    assert all_three() == (2, 2, 2)
    Notification.objects.filter(pk=first.pk).update(read_at=timezone.now())
    assert all_three() == (1, 1, 1)
    Notification.objects.filter(pk=first.pk).update(read_at=None)
    assert all_three() == (2, 2, 2)
    Notification.objects.filter(pk=first.pk).delete()
    assert all_three() == (1, 1, 1)
    today = timezone.localdate()
    Membership.objects.filter(workspace=team.workspace, user=team.editor).update(access_until=today)
    assert all_three() == (1, 1, 1)
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert timezone.localdate() == today + timedelta(days=1)
    assert all_three() == (0, 0, 0)
