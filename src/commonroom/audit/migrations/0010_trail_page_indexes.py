"""Indexes for the trail's pages: each way a page is read (a workspace's trail, filtered by
action, person or document, or the whole trail by action) leads with what it filters on and ends
in the trail's order (newest first), so a page is the first rows of one index range. They are
made before the single-column indexes they replace are dropped."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0009_readings_audited"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["workspace_id", "-id"], name="audit_ws_page"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["workspace_id", "action", "-id"], name="audit_ws_action_page"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                models.F("workspace_id"),
                django.db.models.functions.text.Upper("actor_email"),
                models.OrderBy(models.F("id"), descending=True),
                name="audit_ws_person_page",
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["document_id", "-id"], name="audit_document_page"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "-id"], name="audit_action_page"),
        ),
        # Each was the first column of one of the indexes above.
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(max_length=40),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="document_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="workspace_id",
            field=models.UUIDField(blank=True, null=True),
        ),
    ]
