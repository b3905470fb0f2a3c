"""Per-workspace audit chains, step 3 of 3: ``seq`` unique within each chain; the single head
of the old global chain is gone (its last seq and hash are kept in the ``audit.rechained``
row that step 2 wrote)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_per_workspace_chains_rechain")]

    operations = [
        migrations.DeleteModel(name="AuditHead"),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("workspace_id", "seq"), name="audit_chain_seq"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("workspace_id__isnull", True)),
                fields=("seq",),
                name="audit_system_chain_seq",
            ),
        ),
    ]
