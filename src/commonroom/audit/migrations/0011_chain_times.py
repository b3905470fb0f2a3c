"""Each chain's head remembers the latest time its chain recorded and whether its rows' times
are in order (each at or after the row before's), and a workspace's trail gains the index
that finds where a date window starts and ends (decision 45). Existing chains are read once:
a chain in which any row's time is before the row before's (a clock stepped back while it was
written) is marked out of order, and its date windows are read by time alone, as before."""

from typing import Any

from django.db import migrations, models
from django.db.models import F, Max, Window
from django.db.models.functions import Lag


def heads_learn_their_times(apps: Any, schema_editor: Any) -> None:
    head_model = apps.get_model("audit", "AuditChainHead")
    event_model = apps.get_model("audit", "AuditEvent")
    for head in head_model.objects.filter(seq__gt=0):
        if head.chain == "system":
            chain = event_model.objects.filter(workspace_id__isnull=True)
        else:
            chain = event_model.objects.filter(workspace_id=head.chain)
        head.last_at = chain.aggregate(last=Max("created_at"))["last"]
        before = chain.annotate(before=Window(Lag("created_at"), order_by=F("id").asc()))
        head.times_in_order = not before.filter(created_at__lt=F("before")).exists()
        head.save(update_fields=["last_at", "times_in_order"])


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
        migrations.AddField(
            model_name="auditchainhead",
            name="times_in_order",
            field=models.BooleanField(default=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["workspace_id", "created_at", "id"], name="audit_ws_time"),
        ),
        migrations.RunPython(heads_learn_their_times, migrations.RunPython.noop),
    ]
