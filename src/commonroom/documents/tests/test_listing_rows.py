"""``{% listing_rows %}``: a folder's rows drawn as the listing's template drew them, for every
role and every state a row can be in, and its times and sizes as Django's filters write them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import Context, Template
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from django.utils import timezone

from commonroom.documents.hooks import EditLock
from commonroom.documents.models import Document, Version
from commonroom.documents.selectors import folder_documents, folder_listing_page
from commonroom.documents.templatetags.listing_rows import ago, size
from commonroom.documents.tests.factories import access_for, make_folder, new_version, upload

pytestmark = pytest.mark.django_db

# The rows as ``workspaces/_listing.html`` drew them with template markup (an include and three
# filters a row), kept beside this test: what the tag must still write, spaces apart.
TEMPLATE_ROWS = Template((Path(__file__).parent / "listing_rows_template.html").read_text())
TAG_ROWS = Template("{% load listing_rows %}{% listing_rows %}")


def _spaces_apart(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


NOW = datetime(2026, 3, 31, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "before",
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(seconds=59),
        timedelta(seconds=60),
        timedelta(seconds=119),
        timedelta(minutes=59, seconds=59),
        timedelta(hours=1),
        timedelta(hours=23, minutes=59),
        timedelta(days=1),
        timedelta(days=1, hours=3),
        timedelta(days=6, hours=23, minutes=59),
        timedelta(days=7),
        timedelta(days=13, minutes=5),
        timedelta(days=30),
        timedelta(days=31),
        timedelta(days=45, hours=2),
        timedelta(days=59),
        timedelta(days=364),
        timedelta(days=365),
        timedelta(days=366),
        timedelta(days=400, hours=5),
        timedelta(days=800),
        timedelta(days=3653),
    ],
)
@pytest.mark.parametrize(
    "now",
    [
        NOW,
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),  # after a short month
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),  # a leap day
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_times_are_written_as_the_naturaltime_filter_writes_them(
    before: timedelta, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import django.contrib.humanize.templatetags.humanize as humanize

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return now if tz is not None else now.replace(tzinfo=None)

    monkeypatch.setattr(humanize, "datetime", Frozen)
    value = now - before
    assert ago(value, now) == naturaltime(value)
    # A moment in another zone, counted in that zone's calendar as the filter counts it.
    local = value.astimezone(timezone.get_current_timezone())
    assert ago(local, now) == naturaltime(local)


@pytest.mark.parametrize(
    "n",
    [
        *(0, 1, 2, 1023, 1024, 1025, 4200, 1048524, 1048575, 1048576, 5 * 2**20 + 99999),
        *(2**30 - 1, 2**30, 3 * 2**40 + 7, 2**50, 2**55 + 12345, -5, None, ""),
    ],
)
def test_sizes_are_written_as_the_filesizeformat_filter_writes_them(n: Any) -> None:
    assert size(n) == filesizeformat(n)


def _documents(team: Any) -> Any:
    """Documents in every state a row shows: in a folder's company, two versions (the second
    crossed), new since its reader read it, a final record, held open in Word."""
    make_folder(team.manager, team.workspace, "Board <papers>")
    make_folder(team.manager, team.workspace, "Finance & audit")
    plain = upload(team.editor, team.workspace, "minutes & <notes>.txt", b"x" * 3000).document
    twice = upload(team.editor, team.workspace, "budget.docx", b"one").document
    crossed = new_version(team.manager, twice, b"two" * 400000)
    Version.objects.filter(pk=crossed.pk).update(based_on_latest=False)
    sealed = upload(team.editor, team.workspace, "final.pdf", b"%PDF").document
    Document.objects.filter(pk=sealed.pk).update(
        sealed_version=sealed.versions.get(), updated_at=timezone.now() - timedelta(days=40)
    )
    return plain, twice, sealed


@pytest.mark.parametrize("role", ["manager", "editor", "commenter", "viewer"])
def test_the_rows_are_the_templates_rows_for_every_role(team: Any, role: str) -> None:
    """The template drew the documents as model objects with their latest versions
    (``folder_documents``); the tag draws the page's rows (``folder_listing_page``)."""
    plain, twice, sealed = _documents(team)
    user = team.by_role[role]
    access = access_for(user, team.workspace)
    documents = list(folder_documents(access=access, folder=None))
    rows = list(
        folder_listing_page(access=access, folder=None, reader=user, number=1, per_page=100)
    )
    assert [r.pk for r in rows] == [d.pk for d in documents]
    from commonroom.documents.selectors import all_folders

    folders = [f for f, _ in all_folders(access=access)]
    locks = {
        plain.pk: EditLock(holder=team.editor, app="Word", since=timezone.now()),
        sealed.pk: EditLock(holder=user, app="", since=timezone.now() - timedelta(days=2)),
    }
    for d in documents:
        d.new_since_read = d.pk == twice.pk  # type: ignore[attr-defined]
        d.edit_lock = locks.get(d.pk)  # type: ignore[attr-defined]
    for r in rows:
        r.new_since_read = r.pk == twice.pk
        r.edit_lock = locks.get(r.pk)
    request = RequestFactory().get("/")
    request.user = user
    context = {
        "workspace": team.workspace,
        "folders": folders,
        "documents": documents,
        "user": user,
        "request": request,
    }
    expected = TEMPLATE_ROWS.render(Context(context))
    drawn = TAG_ROWS.render(Context({**context, "documents": rows}))
    assert "Board &lt;papers&gt;" in drawn and "minutes &amp; &lt;notes&gt;.txt" in drawn
    assert "Crossed amendment" in drawn and "Final record" in drawn
    assert "Being edited in Word by" in drawn and "Being edited in another app by you" in drawn
    assert "New since you last read it" in drawn and "1.1\xa0MB" in drawn
    assert _spaces_apart(drawn) == _spaces_apart(expected)


def test_an_empty_folder_has_no_rows(team: Any) -> None:
    context = {"workspace": team.workspace, "folders": [], "documents": [], "user": team.viewer}
    assert TAG_ROWS.render(Context(context)) == ""
