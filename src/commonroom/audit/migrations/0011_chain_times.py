"""Each chain's head remembers the time of its last event, so that the next is never given an
earlier one (``audit.services._append``), and a workspace's trail gains the index that finds
where a date window starts and ends. Existing heads take the latest time of their chain."""

from typing import Any

from django.db import migrations, models
from django.db.models import Max


def heads_take_their_last_time(apps: Any, schema_editor: Any) -> None:
    head_model = apps.get_model("audit", "AuditChainHead")
    event_model = apps.get_model("audit", "AuditEvent")
    for head in head_model.objects.filter(seq__gt=0):
        chain = (
            event_model.objects.filter(workspace_id__isnull=True)
            if head.chain == "system"
            else event_model.objects.filter(workspace_id=head.chain)
        )
        head.last_at = chain.aggregate(last=Max("created_at"))["last"]
        head.save(update_fields=["last_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0010_trail_page_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditchainhead",
            name="last_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["workspace_id", "created_at", "id"], name="audit_ws_time"),
        ),
        migrations.RunPython(heads_take_their_last_time, migrations.RunPython.noop),
    ]
