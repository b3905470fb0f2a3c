"""Clients' dead properties (PROPPATCH: Windows' file times and attributes, anything a client
keeps beside a file), in the database so every server process sees them.

WsgiDAV's property-manager interface, keyed by a thing's identity (``document:<id>``, see
``models.DavProperty``) rather than by its URL: a rename or a move keeps them, and nobody else's
name for the workspace matters. The resources (``provider``) pass that key where WsgiDAV would
pass a URL. Limits keep a client from storing a novel: at most :data:`MAX_PROPERTIES` per thing
and :data:`MAX_VALUE` characters each.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from commonroom.webdav.models import DavProperty

MAX_PROPERTIES = 100
MAX_VALUE = 16 * 1024
MAX_NAME = 500


class PropertyLimit(Exception):
    """A property too long, or one too many for its thing."""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class DatabasePropertyManager:
    def __repr__(self) -> str:
        return "DatabasePropertyManager"

    def get_properties(self, norm_url: str, environ: Any = None) -> list[str]:
        return list(
            DavProperty.objects.filter(key=norm_url).order_by("pk").values_list("name", flat=True)
        )

    def get_property(self, norm_url: str, name: str, environ: Any = None) -> str | None:
        return (
            DavProperty.objects.filter(key=norm_url, name=name)
            .values_list("value", flat=True)
            .first()
        )

    def write_property(
        self,
        norm_url: str,
        name: str,
        property_value: Any,
        dry_run: bool = False,
        environ: Any = None,
    ) -> None:
        value = _text(property_value)
        if len(value) > MAX_VALUE or len(name) > MAX_NAME:
            raise PropertyLimit(name)
        if dry_run:
            return
        with transaction.atomic():
            updated = DavProperty.objects.filter(key=norm_url, name=name).update(value=value)
            if updated:
                return
            if DavProperty.objects.filter(key=norm_url).count() >= MAX_PROPERTIES:
                raise PropertyLimit(name)
            DavProperty.objects.create(key=norm_url, name=name, value=value)

    def remove_property(
        self, norm_url: str, name: str, dry_run: bool = False, environ: Any = None
    ) -> None:
        if not dry_run:
            DavProperty.objects.filter(key=norm_url, name=name).delete()

    def remove_properties(self, norm_url: str, environ: Any = None) -> None:
        DavProperty.objects.filter(key=norm_url).delete()

    def copy_properties(self, src_url: str, dest_url: str, environ: Any = None) -> None:
        rows = list(DavProperty.objects.filter(key=src_url).values_list("name", "value"))
        with transaction.atomic():
            DavProperty.objects.filter(key=dest_url).delete()
            DavProperty.objects.bulk_create(
                [DavProperty(key=dest_url, name=n, value=v) for n, v in rows]
            )

    def move_properties(
        self, src_url: str, dest_url: str, with_children: bool, environ: Any = None
    ) -> None:
        self.copy_properties(src_url, dest_url, environ)
        self.remove_properties(src_url, environ)
