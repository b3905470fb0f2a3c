"""``{% thread_card thread %}``: one thread as its reader sees it (its suggestion's parts, whether
it is resolved and by whom, its comments, and the forms to reply, resolve or reopen for whoever
may), in ``comments/_section.html`` and the fragment live screens fetch (``comments/_thread.html``).

``{% comment_card c %}``: one comment as its reader sees it (who wrote it and when, the passage
it is on, its words, and the forms to edit or delete it for whoever may), in the thread cards of
``{% thread_card %}``.

It is written here rather than as a template because a document's page draws every comment of
every thread, a few hundred on a busy paper, and Django's templates cost about a third of a
millisecond per comment drawn (their variables, tags and filters resolved one node at a time):
most of the page's time. Built with ``format_html`` it costs a tenth of that, and says the same:
every value escaped except the comment's own sanitised HTML (``body_html``), dates in the
installation's time zone and language as the ``date`` filter writes them, and the page's CSRF
token in each form. What it needs is on the comment as the comments selectors leave it (``can``,
``passage`` on a thread's first comment, ``version``, ``author``) and in the page's context
(``workspace``, ``document``, ``user``, ``mentions_url``, ``csrf_token``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from commonroom.accounts.templatetags.people import person
from commonroom.core.fragments import csrf_field

if TYPE_CHECKING:
    from datetime import datetime

    from commonroom.comments.models import Comment
    from commonroom.comments.permissions import CommentAbilities

register = template.Library()

EMPTY = mark_safe("")


def _when(value: datetime) -> SafeString:
    """``<time>`` as ``{{ value|date:'c' }}`` and ``{{ value|date:"j M Y, H:i" }}`` write it
    (Django's ``dateformat`` spelt out for these two formats: it costs more than the rest of a
    card; ``tests/test_comment_cards.py`` holds them equal)."""
    local = timezone.localtime(value)
    shown = (
        f"{local.day} {MONTHS_3[local.month].title()} {local.year:04d}, "
        f"{local.hour:02d}:{local.minute:02d}"
    )
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), shown)


# Stands for a comment's id in the forms' addresses, made once a page (any UUID will do).
_HOLE = str(uuid.UUID(int=0))


class _Page:
    """What every card of a page shares, made by its first: the CSRF field and the forms'
    addresses with a hole for the comment's id."""

    def __init__(self, context: template.Context) -> None:
        self.token = csrf_field(context.get("csrf_token"))
        workspace = context["workspace"].pk
        args = [workspace, context["document"].pk, _HOLE]
        self.edit_url = reverse("comment_edit", args=args)
        self.delete_url = reverse("comment_delete", args=args)
        self.reply_url = reverse("comment_reply", args=args)
        self.resolve_url = reverse("comment_resolve", args=args)
        self.reopen_url = reverse("comment_reopen", args=args)
        self.mentions_url = context.get("mentions_url") or reverse(
            "workspace_mention_candidates", args=[workspace]
        )


def _page(context: template.Context) -> _Page:
    """The page's :class:`_Page`, kept in the context's bottom layer (one per page, whatever
    templates the cards are included from; the dotted key is out of the templates' reach)."""
    bottom = context.dicts[0]
    shared: _Page | None = bottom.get("comment_cards.page")
    if shared is None:
        shared = bottom["comment_cards.page"] = _Page(context)
    return shared


def _passage(c: Comment, latest: int) -> SafeString:
    """The quoted passage, linked to where it is on the latest version, or why it is not."""
    if not c.anchor_quote:
        return EMPTY
    shown = getattr(c, "passage", None)
    if shown is not None and shown.here:
        quote = format_html(
            '<a class="cr-comment__quote-link" href="#{}" data-version="{}"><span '
            'class="nhsuk-u-visually-hidden">The passage: </span>{}</a>',
            shown.here,
            latest,
            c.anchor_quote,
        )
    else:
        quote = format_html("{}", c.anchor_quote)
    html = format_html('<blockquote class="cr-comment__quote">{}</blockquote>', quote)
    if shown is None:
        return html
    if shown.changed_in:
        return format_html(
            '{}\n  <p class="nhsuk-body-s cr-comment__passage" data-passage="changed">The '
            "passage changed in version {}.</p>",
            html,
            shown.changed_in,
        )
    if shown.unchecked_in:
        why = (
            "it has no preview"
            if shown.unchecked_why == "no_preview"
            else "where it was could not be read"
        )
        return format_html(
            '{}\n  <p class="nhsuk-body-s cr-comment__passage" data-passage="unchecked">The '
            "passage could not be checked in version {}: {}.</p>",
            html,
            shown.unchecked_in,
            why,
        )
    return html


def _actions(c: Comment, context: template.Context, page: _Page) -> SafeString:
    """The forms to edit or delete the comment, for whoever may."""
    can: CommentAbilities | None = getattr(c, "can", None)
    if can is None or not (can["edit"] or can["delete"]):
        return EMPTY
    pk = str(c.pk)
    edit = delete = EMPTY
    if can["edit"]:
        edit = format_html(
            '\n    <details class="nhsuk-details cr-comment__edit">\n      <summary '
            'class="nhsuk-details__summary"><span class="nhsuk-details__summary-text">Edit<span '
            'class="nhsuk-u-visually-hidden"> your comment</span></span></summary>\n      <div '
            'class="nhsuk-details__text">\n        <form method="post" action="{}">\n          '
            '{}\n          <label class="nhsuk-label" for="edit-{}">Your comment</label>\n'
            '          <textarea class="nhsuk-textarea" id="edit-{}" name="body" rows="3" '
            'data-mentions="{}" required>{}</textarea>\n          <button class="nhsuk-button '
            'nhsuk-button--secondary nhsuk-button--small" type="submit">Save the change</button>'
            "\n        </form>\n      </div>\n    </details>",
            page.edit_url.replace(_HOLE, pk),
            page.token,
            c.pk,
            c.pk,
            context.get("mentions_url", ""),
            c.body,
        )
    if can["delete"]:
        user = context.get("user")
        mine = user is not None and c.author_id == user.pk
        whose = "your comment" if mine else format_html("the comment by {}", c.author.display_name)
        delete = format_html(
            '\n    <form method="post" action="{}" class="cr-inline-form" data-confirm="Delete '
            '{}? Its words are removed for everyone; the thread stays.">\n      {}<button '
            'class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" '
            'type="submit">Delete<span class="nhsuk-u-visually-hidden"> the comment by {}</span>'
            "</button>\n    </form>",
            page.delete_url.replace(_HOLE, pk),
            whose,
            page.token,
            c.author.display_name,
        )
    return format_html(
        '\n  <div class="cr-actions cr-comment__actions">{}{}\n  </div>', edit, delete
    )


@register.simple_tag(takes_context=True)
def comment_card(context: template.Context, c: Comment) -> SafeString:
    latest = context["document"].current_version_number
    version = (
        format_html(
            ' <strong class="nhsuk-tag nhsuk-tag--grey">on version {}</strong>', c.version.number
        )
        if c.version.number != latest
        else EMPTY
    )
    meta = format_html(
        '<p class="nhsuk-body-s cr-comment__meta">{} · {}{}{}</p>',
        person(c.author),
        _when(c.created_at),
        version,
        mark_safe(' <span class="cr-meta">(edited)</span>')
        if c.edited_at and not c.is_deleted
        else EMPTY,
    )
    if c.is_deleted:
        return format_html(
            '<div class="cr-comment cr-comment--deleted" id="comment-{}">\n  {}\n  '
            '<p class="cr-comment__tombstone">This comment was deleted</p>\n</div>',
            c.pk,
            meta,
        )
    return format_html(
        '<div class="cr-comment" id="comment-{}">\n  {}\n  {}\n  <div class="cr-comment__body '
        'cr-break">{}</div>{}\n</div>',
        c.pk,
        meta,
        _passage(c, latest),
        mark_safe(c.body_html),  # noqa: S308 (sanitised when written: core.markup)
        _actions(c, context, _page(context)),
    )


def _comments(context: template.Context, thread: Comment) -> SafeString:
    """The thread's first comment, then its replies."""
    first = comment_card(context, thread)
    replies = getattr(thread, "thread_replies", None)
    if not replies:
        return format_html("\n{}\n\n", first)
    items = SafeString(
        "".join(format_html("<li>{}</li>", comment_card(context, c)) for c in replies)
    )
    return format_html('\n{}\n<ol class="cr-replies" aria-label="Replies">{}</ol>\n', first, items)


_REOPEN = (
    '\n    <form method="post" action="{}" class="cr-inline-form">\n      {}<button '
    'class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">Reopen<span '
    'class="nhsuk-u-visually-hidden"> the thread</span></button>\n    </form>\n    '
)
_REPLY = (
    '\n    <details class="nhsuk-details cr-reply">\n      <summary class="nhsuk-details__summary">'
    '<span class="nhsuk-details__summary-text">Reply</span></summary>\n      <div '
    'class="nhsuk-details__text">\n        <form class="cr-composer" data-composer method="post" '
    'action="{}">\n          {}<input type="hidden" name="client_key" value="">\n          '
    '<label class="nhsuk-label" for="reply-{}">Your reply</label>\n          <div '
    'class="cr-composer__row">\n            <textarea class="nhsuk-textarea" id="reply-{}" '
    'name="body" rows="2" data-mentions="{}" required></textarea>\n            <button '
    'class="nhsuk-button" type="submit">Send</button>\n          </div>\n        </form>\n'
    "      </div>\n    </details>\n    "
)
_RESOLVE = (
    '\n    <form method="post" action="{}" class="cr-inline-form">\n      {}<button '
    'class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">Resolve<span '
    'class="nhsuk-u-visually-hidden"> the thread</span></button>\n    </form>\n    '
)


@register.simple_tag(takes_context=True)
def thread_card(context: template.Context, thread: Comment) -> SafeString:
    page = _page(context)
    with context.push(mentions_url=page.mentions_url):
        comments = _comments(context, thread)
    abilities: CommentAbilities | None = getattr(thread, "can", None)
    reopen = abilities is not None and abilities["reopen"]
    reply = abilities is not None and abilities["reply"]
    resolve = abilities is not None and abilities["resolve"]
    pk = str(thread.pk)
    parts = getattr(thread, "parts", None)
    head = format_html(
        '<article class="cr-thread{}" id="thread-{}" aria-label="Comment by {}">\n{}\n',
        " cr-thread--resolved" if thread.resolved_at else "",
        thread.pk,
        thread.author.display_name,
        mark_safe(parts) if parts else EMPTY,  # noqa: S308 (the parts' own markup, as |safe)
    )
    if thread.resolved_at:
        count = len(getattr(thread, "thread_replies", None) or []) + 1
        resolved_by = thread.resolved_by
        body = format_html(
            '\n  <div class="cr-thread__status">\n    <p class="nhsuk-body-s cr-meta">Resolved '
            'by {} {}</p>\n    {}\n  </div>\n  <details class="nhsuk-details '
            'cr-thread__folded">\n    <summary class="nhsuk-details__summary"><span '
            'class="nhsuk-details__summary-text">Show the resolved thread ({} comment{})</span>'
            '</summary>\n    <div class="nhsuk-details__text">{}</div>\n  </details>\n',
            resolved_by.display_name if resolved_by is not None else "",
            _when(thread.resolved_at),
            format_html(_REOPEN, page.reopen_url.replace(_HOLE, pk), page.token)
            if reopen
            else EMPTY,
            count,
            "" if count == 1 else "s",
            comments,
        )
    else:
        actions = EMPTY
        if reply or resolve:
            actions = format_html(
                '\n  <div class="cr-thread__actions">\n    {}\n    {}\n  </div>\n  ',
                format_html(
                    _REPLY,
                    page.reply_url.replace(_HOLE, pk),
                    page.token,
                    thread.pk,
                    thread.pk,
                    page.mentions_url,
                )
                if reply
                else EMPTY,
                format_html(_RESOLVE, page.resolve_url.replace(_HOLE, pk), page.token)
                if resolve
                else EMPTY,
            )
        body = format_html("\n  {}\n  {}\n", comments, actions)
    return format_html("{}{}</article>", head, body)
