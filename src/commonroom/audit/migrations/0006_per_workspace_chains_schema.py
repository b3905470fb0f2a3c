"""Per-workspace audit chains, step 1 of 3: the chain heads' table; ``seq`` no longer unique
across the whole trail (it becomes a row's place in its chain); ``action`` without ``choices``
(a new action needs no migration). Step 2 moves the rows; step 3 adds the per-chain unique
constraints and drops the single head."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_preview_viewed_action")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("chain", models.CharField(max_length=36, primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(default="0" * 64, max_length=64)),
                ("key_id", models.CharField(max_length=16)),
            ],
        ),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["-id"]}),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(db_index=True, max_length=40),
        ),
        migrations.AlterField(model_name="auditevent", name="seq", field=models.BigIntegerField()),
    ]
