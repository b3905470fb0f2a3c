"""The document page's fragments kept between requests (``core.fragments``): its list of
versions, drawn again only when what it shows has changed.

The versions list is keyed by the versions themselves, every field of every row as read for
the page (a version is written once; sealing it as a final record changes ``record_at``, a new
version adds a row), by the document's sealed version, which versions can be compared (the
previews app's ``comparable``), what the reader may do with them (download, restore) and the
language; the names shown (authors, who held a lock) are checked as ``core.fragments`` checks
every name. No live event is needed to know it changed: the rows are read for the page anyway.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Sequence
from typing import Any, cast

from django.template import Context
from django.utils.translation import get_language

from commonroom.accounts.selectors import people_digest
from commonroom.core.fragments import Fragment
from commonroom.documents.models import Document, Version
from commonroom.documents.permissions import DocumentAbilities

# A version's columns, in the model's order (relations followed by ``select_related`` are keyed
# by their ids; their names are checked as names).
_COLUMNS = operator.attrgetter(*(field.attname for field in Version._meta.concrete_fields))


def _row(instance: Version) -> tuple[Any, ...]:
    """Every field of a version as it was read: each of its model's columns, in their order."""
    return cast(tuple[Any, ...], _COLUMNS(instance))


def versions_fragment(
    *,
    versions: Sequence[Version],
    workspace: Any,
    document: Document,
    abilities: DocumentAbilities,
    comparable: Collection[int],
) -> Fragment | None:
    """The versions list (``{% version_items %}``) for this reader, or None: no version."""
    if not versions:
        return None
    key = (
        document.pk,
        document.sealed_version_id,
        tuple(_row(v) for v in versions),
        tuple(sorted(comparable)),
        abilities["download"],
        abilities["restore_version"],
        get_language(),
    )

    def build(csrf_token: str) -> str:
        # Imported here: loading a tag library outside the template engine's own loading of
        # them all (listing_rows makes a template as it loads) would leave it half loaded.
        from commonroom.documents.templatetags.version_items import version_items

        context = Context(
            {
                "versions": versions,
                "workspace": workspace,
                "document": document,
                "abilities": abilities,
                "comparable": comparable,
                "csrf_token": csrf_token,
            }
        )
        return str(version_items(context))

    return Fragment(name="documents.versions", key=key, build=build, people=people_digest)
