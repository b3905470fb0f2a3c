"""What comments follow and add to other apps' pages.

- ``documents.hooks``: the document page's threads, each with what its reader may do to it and
  where its passage is on the latest version. A version added whose file's preview is already
  made (the bytes of an earlier version, or of another document) has its threads' passages
  looked for after the commit (``services.passages_follow``): no preview will be made for it.
  One whose preview is still to be made waits for it (one query after the commit says which).
- ``previews.hooks``: a preview made or failed has them looked for after its commit (the
  preview's row is locked until then, and an upload of the same bytes holding the workspace's
  lock may be waiting for it); and each preview shown gets a marker after each block holding
  open threads' passages.

Both after-commit paths may run for one version (the upload's and the preview's commits can
cross): looking again finds nothing new to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.template import Context
from django.urls import reverse
from django.utils.html import format_html

from commonroom.accounts.selectors import people_digest
from commonroom.comments.selectors import (
    anchored_blocks,
    document_threads,
    with_abilities,
    with_parts,
)
from commonroom.comments.services import passages_follow
from commonroom.comments.templatetags.comment_cards import thread_card
from commonroom.core.fragments import Fragment
from commonroom.documents import hooks
from commonroom.live.selectors import page_revision
from commonroom.previews import hooks as previews
from commonroom.previews.selectors import made_in


def document_page(page: hooks.DocumentPage) -> Mapping[str, Any]:
    """The threads' cards, drawn again only when the workspace's newest live event, the reader
    or what they may do, the latest version's number or a name shown has changed since they
    were last drawn for this reader (``core.fragments``): every comment written, edited,
    deleted, resolved or reopened, every suggestion's change of state and every passage followed
    into a new version is an event of its workspace."""
    access = page.doc_access.access
    key = page.reader_key(page_revision(access=access))
    return {
        "threads_fragment": Fragment(
            name="comments.threads",
            key=key,
            build=lambda token: _threads_html(page, token),
            people=people_digest,
        )
    }


def _threads_html(page: hooks.DocumentPage, csrf_token: str) -> str:
    """Every thread's card, as ``comments/_section.html`` drew them one by one."""
    doc_access = page.doc_access
    threads = document_threads(doc_access=doc_access, mentions=False)  # the page shows none
    threads = with_parts(threads, doc_access=doc_access)
    threads = with_abilities(threads, doc_access=doc_access, user=page.user)
    workspace = doc_access.access.workspace
    context = Context(
        {
            "workspace": workspace,
            "document": doc_access.document,
            "user": page.user,
            "csrf_token": csrf_token,
            "mentions_url": reverse("workspace_mention_candidates", args=[workspace.pk]),
        }
    )
    return "".join(thread_card(context, thread) for thread in threads)


def on_version_added(change: hooks.VersionAdded) -> None:
    if change.document_created:
        return  # nothing is anchored yet
    sha, document_id = change.version.blob_id, change.document.pk
    workspace_id = change.document.workspace_id
    transaction.on_commit(lambda: _follow_if_made(workspace_id, sha, document_id), robust=True)


def _follow_if_made(workspace_id: Any, sha: str, document_id: Any) -> None:
    """After a version's commit: its threads' passages looked for now if the workspace has its
    file's preview already; else its preview, once made (or failed) here, has them looked for
    (:func:`on_preview_made`), and looking now would find nothing to read."""
    if made_in(workspace_id, sha):
        passages_follow(sha256=sha, document_id=document_id)


def on_preview_made(change: previews.PreviewReady | previews.PreviewFailed) -> None:
    sha = change.sha256
    transaction.on_commit(lambda: passages_follow(sha256=sha), robust=True)


def _marker(block: str, thread_ids: list[str]) -> str:
    """The link beside a block to the first of its open threads: in the margin on a wide screen,
    after the block on a phone (app.css; anchors.js keeps it up to date on the page)."""
    n = len(thread_ids)
    return str(
        format_html(
            '<div class="cr-anchors" data-anchor-for="{}" data-threads="{}"><a '
            'class="cr-anchors__link" href="#thread-{}">{} comment{}<span '
            'class="nhsuk-u-visually-hidden"> on this passage</span></a></div>',
            block,
            " ".join(thread_ids),
            thread_ids[0],
            n,
            "" if n == 1 else "s",
        )
    )


def preview_markers(shown: previews.PreviewShown) -> Mapping[str, str]:
    found = anchored_blocks(doc_access=shown.doc_access, version_id=shown.version.pk)
    return {block: _marker(block, ids) for block, ids in found.items()}


def connect() -> None:
    hooks.add_page_part(document_page)
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    previews.subscribe(previews.PreviewReady, on_preview_made)
    previews.subscribe(previews.PreviewFailed, on_preview_made)
    previews.add_block_marks(preview_markers)
