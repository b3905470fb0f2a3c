"""Previews follow documents (``documents.hooks``): a new version's blob gets its preview made
(once per blob, in the background, its task queued with the version's commit); blobs the
collector removes take their previews' files with them; the document page shows the latest
version's preview and whether versions can be compared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commonroom.documents import hooks
from commonroom.previews.selectors import comparable_with_previous, preview_for
from commonroom.previews.services import preview_requested, previews_discard


def on_version_added(change: hooks.VersionAdded) -> None:
    preview_requested(version=change.version)


def on_blobs_collected(change: hooks.BlobsCollected) -> None:
    previews_discard(shas=list(change.shas))


def document_page(page: hooks.DocumentPage) -> Mapping[str, Any]:
    versions = page.versions
    return {
        "comparable": comparable_with_previous(versions),
        "preview": preview_for(doc_access=page.doc_access, version=versions[0], reader=page.user)
        if versions
        else None,
    }


def connect() -> None:
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    hooks.subscribe(hooks.BlobsCollected, on_blobs_collected)
    hooks.add_page_part(document_page)
