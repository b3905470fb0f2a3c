"""A trail page is found by keyset (the events below or above a cursor), 100 to a page: the
reader goes to older and newer pages with their filters kept, an event written meanwhile does
not shift the pages already open, a cursor the page never gives is a sentence (400), and the
queries a page needs do not grow with the trail."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import PAGE_SIZE, audit_events, audit_verify
from commonroom.audit.services import audit_record

OLDER = re.compile(r'nhsuk-pagination__link--next" href="\?([^"]*)"')
NEWER = re.compile(r'nhsuk-pagination__link--prev" href="\?([^"]*)"')


def add_events(team, count: int, *, action: str = Action.DOCUMENT_VIEWED) -> None:
    for i in range(count):
        audit_record(
            action=action,
            actor=team.viewer if i % 2 else team.editor,
            workspace_id=team.workspace.pk,
            target_type="document",
            target_label=f"paper {i}",
        )


def trail_url(team, **query) -> str:
    url = reverse("workspace_audit", args=[team.workspace.pk])
    return url + ("?" + urlencode(query) if query else "")


def seqs(response) -> list[int]:
    return [e.seq for e in response.context["page"]]


def link(response, pattern: re.Pattern[str]) -> str | None:
    """The query of the page's Older or Newer link, as a browser would follow it."""
    found = pattern.search(response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def manager(team, client):
    client.force_login(team.manager)
    return client


def every_seq(team) -> list[int]:
    return list(
        AuditEvent.objects.filter(workspace_id=team.workspace.pk)
        .order_by("-id")
        .values_list("seq", flat=True)
    )


def test_older_pages_run_through_the_whole_trail_and_newer_pages_come_back(team, manager):
    add_events(team, 2 * PAGE_SIZE + 30)
    expected = every_seq(team)
    pages = [manager.get(trail_url(team))]
    assert link(pages[0], NEWER) is None  # the newest page has nothing newer
    while (older := link(pages[-1], OLDER)) is not None:
        pages.append(manager.get(trail_url(team) + "?" + older))
    assert [len(seqs(p)) for p in pages] == [PAGE_SIZE, PAGE_SIZE, len(expected) - 2 * PAGE_SIZE]
    assert [s for p in pages for s in seqs(p)] == expected
    # The last page offers the way back, and the way back gives the same pages.
    back = [pages[-1]]
    while (newer := link(back[-1], NEWER)) is not None:
        back.append(manager.get(trail_url(team) + "?" + newer))
    assert [seqs(p) for p in reversed(back)] == [seqs(p) for p in pages]


def test_the_links_keep_the_filters(team, manager):
    add_events(team, 2 * PAGE_SIZE + 10, action=Action.PREVIEW_VIEWED)  # the viewer: 105
    add_events(team, 10, action=Action.COMMENT_CREATED)
    first = manager.get(trail_url(team, action=Action.PREVIEW_VIEWED, person=team.viewer.email))
    older = link(first, OLDER)
    assert older is not None
    query = parse_qs(older)
    assert query["action"] == [Action.PREVIEW_VIEWED]
    assert query["person"] == [team.viewer.email]
    second = manager.get(trail_url(team) + "?" + older)
    events = list(first.context["page"]) + list(second.context["page"])
    assert {(e.action, e.actor_email) for e in events} == {
        (Action.PREVIEW_VIEWED, team.viewer.email)
    }
    expected = AuditEvent.objects.filter(
        workspace_id=team.workspace.pk, action=Action.PREVIEW_VIEWED, actor_email=team.viewer.email
    ).count()
    assert len(events) == expected
    assert link(second, OLDER) is None
    assert parse_qs(link(second, NEWER) or "")["action"] == [Action.PREVIEW_VIEWED]


def test_an_empty_trail_page_says_so_and_offers_no_pages(team, manager):
    response = manager.get(trail_url(team, person="nobody@example.org"))
    assert response.status_code == 200
    assert seqs(response) == []
    assert b"No events match." in response.content
    assert link(response, OLDER) is None
    assert link(response, NEWER) is None


def test_a_trail_of_exactly_one_page_has_no_older_page(team, manager):
    add_events(team, PAGE_SIZE - len(every_seq(team)))
    response = manager.get(trail_url(team))
    assert len(seqs(response)) == PAGE_SIZE
    assert link(response, OLDER) is None


def test_an_event_written_between_pages_shifts_nothing(team, manager):
    add_events(team, 2 * PAGE_SIZE)
    first = manager.get(trail_url(team))
    older = link(first, OLDER)
    assert older is not None
    audit_record(action=Action.COMMENT_CREATED, actor=team.editor, workspace_id=team.workspace.pk)
    newest = every_seq(team)[0]
    second = manager.get(trail_url(team) + "?" + older)
    # The next page starts right below the last event the reader saw: nothing seen twice.
    assert seqs(second)[0] == seqs(first)[-1] - 1
    assert newest not in seqs(second)
    # Back to newer: the page the reader saw, and from it a newer page with the new event.
    back = manager.get(trail_url(team) + "?" + (link(second, NEWER) or ""))
    assert seqs(back) == seqs(first)
    newer = link(back, NEWER)
    assert newer is not None
    assert seqs(manager.get(trail_url(team) + "?" + newer)) == [newest]


@pytest.mark.parametrize(
    "query",
    [
        {"older": "abc"},
        {"older": "-5"},
        {"newer": "1.5"},
        {"older": "99999999999999999999999999"},  # beyond any id: refused before the database
        {"older": "٣"},  # a digit, but not one the trail writes
        {"older": "5", "newer": "3"},
    ],
)
def test_a_forged_cursor_is_a_sentence_not_a_failure(team, manager, query):
    response = manager.get(trail_url(team, **query))
    assert response.status_code == 400
    assert b"This page of the audit trail does not exist" in response.content
    assert manager.get(trail_url(team, format="csv", **query)).status_code == 200


def test_a_cursor_past_the_end_is_an_empty_page_with_the_way_back(team, manager):
    add_events(team, 3)
    oldest = AuditEvent.objects.filter(workspace_id=team.workspace.pk).order_by("id").first()
    assert oldest is not None
    response = manager.get(trail_url(team, older=oldest.pk))
    assert response.status_code == 200
    assert seqs(response) == []
    newer = link(response, NEWER)
    assert newer is not None
    assert seqs(manager.get(trail_url(team) + "?" + newer))[-1] == oldest.seq


def test_a_cursor_below_every_id_offers_a_way_back_the_trail_takes(team, manager):
    response = manager.get(trail_url(team, older=0))
    assert response.status_code == 200
    assert seqs(response) == []
    newer = link(response, NEWER)
    assert newer is not None
    assert seqs(manager.get(trail_url(team) + "?" + newer)) == every_seq(team)


def test_a_cursor_never_reaches_another_workspaces_events(team, manager):
    from commonroom.workspaces.tests.factories import make_workspace

    elsewhere = make_workspace(manager=team.outsider, name="Elsewhere")
    add_events(team, 5)
    theirs = audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=elsewhere.pk)
    assert theirs is not None
    for query in ({"older": theirs.pk + 1}, {"newer": 0}):
        events = list(manager.get(trail_url(team, **query)).context["page"])
        assert events
        assert {e.workspace_id for e in events} == {team.workspace.pk}


def page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_queries_of_a_page_do_not_grow_with_the_trail(team, manager):
    def counts() -> list[int]:
        first = manager.get(trail_url(team))
        older = link(first, OLDER) or ""
        return [
            page_queries(manager, trail_url(team)),
            page_queries(manager, trail_url(team) + "?" + older),
            page_queries(manager, trail_url(team, person=team.viewer.email)),
            page_queries(manager, trail_url(team, **{"from": "2020-01-01", "to": "2999-12-31"})),
        ]

    add_events(team, PAGE_SIZE + 10)
    small = counts()
    add_events(team, 2 * PAGE_SIZE)
    assert counts() == small


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans need no statistics")
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "audit_ws_page"),
        ({"action": Action.DOCUMENT_VIEWED}, "audit_ws_action_page"),
        ({"actor_email": "Priya@Example.org"}, "audit_ws_person_page"),
        ({"document_id": "3f1c0e1e-5f6b-4c0d-9a57-3a3b2c7c1d10"}, "audit_document_page"),
    ],
)
def test_each_filtered_page_reads_one_index_range_in_order(team, filters, index):
    """The page's rows come off an index in the trail's order: no sorting of everything the
    filter matches, which would grow with the trail."""
    import uuid

    from commonroom.audit.selectors import AuditFilter

    if "document_id" in filters:
        filters = {"document_id": uuid.UUID(filters["document_id"])}
    events = audit_events(workspace_id=team.workspace.pk, filters=AuditFilter(**filters))
    for qs in (events, events.filter(id__lt=10**6)):
        sql, params = qs[: PAGE_SIZE + 1].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
        assert index in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_the_person_filter_is_as_case_insensitive_as_before(team, manager):
    add_events(team, 2)
    upper = manager.get(trail_url(team, person=team.viewer.email.upper()))
    assert seqs(upper)
    assert {e.actor_email for e in upper.context["page"]} == {team.viewer.email}


def test_a_row_shows_what_the_template_filters_showed(team, manager):
    """The row's words and times are made in Python once; they read as the ``date``,
    ``default`` and label filters of the template made them."""
    from django.utils import dateformat, timezone
    from django.utils.html import escape

    from commonroom.audit.models import action_label

    uploaded = audit_record(
        action=Action.VERSION_UPLOADED,
        actor=team.editor,
        workspace_id=team.workspace.pk,
        target_label="Minutes <draft>.docx",
        data={"version": 3},
    )
    unattended = audit_record(action=Action.MEMBER_ACCESS_ENDED, workspace_id=team.workspace.pk)
    assert uploaded is not None
    assert unattended is not None
    html = manager.get(trail_url(team)).content.decode()
    at = timezone.localtime(uploaded.created_at)
    assert f'<time datetime="{dateformat.format(at, "c")}">' in html
    assert f">{dateformat.format(at, 'j M Y, H:i:s')}</time>" in html
    what = f"{action_label(Action.VERSION_UPLOADED)}: Minutes &lt;draft&gt;.docx (version 3)"
    assert f'<span class="cr-break">{what}</span>' in html
    assert f'<span class="cr-break">{team.editor.email}</span>' in html
    ended = escape(action_label(Action.MEMBER_ACCESS_ENDED))
    assert f'<span class="cr-break">{ended}</span>' in html
    assert '<span class="cr-break">system</span>' in html
    assert "<span>\N{EN DASH}</span>" in html


def _chain_times(team) -> list:
    return list(
        AuditEvent.objects.filter(workspace_id=team.workspace.pk)
        .order_by("id")
        .values_list("created_at", flat=True)
    )


def _head(team):
    from commonroom.audit.models import AuditChainHead, chain_key

    return AuditChainHead.objects.get(pk=chain_key(team.workspace.pk))


def _record_at(team, moment, label: str):
    from unittest import mock

    with mock.patch("commonroom.audit.services.timezone.now", return_value=moment):
        return audit_record(
            action=Action.DOCUMENT_VIEWED,
            actor=team.editor,
            workspace_id=team.workspace.pk,
            target_label=label,
        )


def _window(team, day) -> set[str]:
    from commonroom.audit.selectors import AuditFilter

    events = audit_events(
        workspace_id=team.workspace.pk, filters=AuditFilter(date_from=day, date_to=day)
    )
    return set(events.values_list("target_label", flat=True))


def test_a_clock_a_moment_behind_records_the_row_at_the_chains_latest_time(team):
    """Two servers' clocks a moment apart write one chain: the row is recorded no earlier than
    the row before it, and the chain stays in time order."""
    from datetime import timedelta

    add_events(team, 1)
    last = _chain_times(team)[-1]
    _record_at(team, last - timedelta(seconds=1), "a moment behind")
    assert _chain_times(team)[-1] == last
    assert _head(team).times_in_order
    assert audit_verify().ok


def test_a_clock_set_back_further_is_recorded_as_it_says_and_windows_read_by_time(team, caplog):
    """A clock stepped back by more than CLOCK_SKEW: the row keeps the clock's time, the chain
    is marked out of order (a warning says so), and a day's window still holds every row of
    that day, read by time alone."""
    from datetime import UTC, date, datetime

    a = _record_at(team, datetime(2027, 3, 1, 10, 0, 30, tzinfo=UTC), "A")
    b = _record_at(team, datetime(2027, 3, 1, 10, 0, 5, tzinfo=UTC), "B")
    _record_at(team, datetime(2027, 3, 2, 9, 0, tzinfo=UTC), "C")
    assert b.created_at < a.created_at
    assert not _head(team).times_in_order
    assert "behind the latest time recorded" in caplog.text
    assert _window(team, date(2027, 3, 1)) == {"A", "B"}
    assert _window(team, date(2027, 3, 2)) == {"C"}
    assert audit_verify().ok


def test_one_row_under_a_clock_set_forward_does_not_move_the_rows_after_it(team):
    """A row written while the clock was years ahead: the rows after it keep their own time
    (they are not recorded at that future time), and today's window holds them."""
    from datetime import UTC, datetime

    from django.utils import timezone

    _record_at(team, datetime(2036, 1, 1, 9, 0, tzinfo=UTC), "ahead")
    now = timezone.now()
    later = _record_at(team, now, "now")
    assert later.created_at == now
    assert not _head(team).times_in_order
    assert "now" in _window(team, timezone.localdate(now))


def test_a_date_window_is_found_by_two_probes_then_one_index_range(team):
    """In a chain whose times are in order, a window's edges are each one probe of
    ``audit_ws_time``, in its order; its page is then one range of ``audit_ws_page`` in the
    trail's order, however many events are newer."""
    import datetime as dt

    from commonroom.audit.selectors import AuditFilter

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plans need no statistics")
    add_events(team, 3)
    today = dt.datetime.now(dt.UTC).date()
    window = AuditFilter(date_from=today - dt.timedelta(days=1), date_to=today)
    with CaptureQueriesContext(connection) as probes:
        events = audit_events(workspace_id=team.workspace.pk, filters=window)
    # Whether the chain's times are in order (its head, by primary key), then the two edges.
    assert len(probes.captured_queries) == 3
    assert "times_in_order" in probes.captured_queries[0]["sql"]
    plans = []
    with connection.cursor() as cursor:
        for query in probes.captured_queries[1:]:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans.append(" / ".join(str(row[-1]) for row in cursor.fetchall()))
        for plan in plans:
            assert "audit_ws_time" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        sql, params = events[: PAGE_SIZE + 1].query.sql_with_params()
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
    assert "audit_ws_page" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert [e.seq for e in events] == every_seq(team)


def test_a_window_with_no_event_on_one_side_is_empty_without_reading_the_trail(team):
    import datetime as dt

    from commonroom.audit.selectors import AuditFilter

    add_events(team, 2)
    today = dt.datetime.now(dt.UTC).date()
    after = AuditFilter(date_from=today + dt.timedelta(days=2))
    before = AuditFilter(date_to=today - dt.timedelta(days=400))
    assert not audit_events(workspace_id=team.workspace.pk, filters=after).exists()
    assert not audit_events(workspace_id=team.workspace.pk, filters=before).exists()
    # The administrators' whole trail (no workspace) still filters by the time alone.
    assert not audit_events(workspace_id=None, filters=after).exists()
    assert audit_events(
        workspace_id=None, filters=AuditFilter(date_from=today - dt.timedelta(days=1))
    ).exists()
