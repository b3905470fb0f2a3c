"""Versions say where their base came from (the file's own stamp, or the page) and which earlier
version, if any, has the same bytes; the second is filled in for the versions already there."""

from typing import Any

from django.db import migrations, models


def identical_versions(apps: Any, schema_editor: Any) -> None:
    """For each version, the first earlier version of its document with the same blob."""
    Version = apps.get_model("documents", "Version")
    first: dict[tuple[Any, str], int] = {}
    changed = []
    rows = Version.objects.order_by("document_id", "number").only(
        "pk", "document_id", "number", "blob_id"
    )
    for version in rows.iterator(chunk_size=2000):
        key = (version.document_id, version.blob_id)
        if key in first:
            version.identical_to_number = first[key]
            changed.append(version)
        else:
            first[key] = version.number
        if len(changed) >= 1000:
            Version.objects.bulk_update(changed, ["identical_to_number"])
            changed = []
    if changed:
        Version.objects.bulk_update(changed, ["identical_to_number"])


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="version",
            name="based_on_from_file",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="version",
            name="identical_to_number",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(identical_versions, migrations.RunPython.noop, elidable=True),
    ]
