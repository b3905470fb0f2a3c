from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0006_listing_by_name"),
        ("workspaces", "0008_workspace_watermark_guest_downloads"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="document",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", False), ("trashed_with__isnull", True)),
                fields=["workspace", "-deleted_at", "-id"],
                name="doc_trash_by_time",
            ),
        ),
        migrations.AddIndex(
            model_name="folder",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True), ("parent__isnull", True)),
                fields=["workspace", "name", "id"],
                name="folder_top_level_by_name",
            ),
        ),
        migrations.AddIndex(
            model_name="folder",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["parent", "name", "id"],
                name="folder_in_folder_by_name",
            ),
        ),
        migrations.AddIndex(
            model_name="folder",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", False), ("trashed_with__isnull", True)),
                fields=["workspace", "-deleted_at", "-id"],
                name="folder_trash_by_time",
            ),
        ),
    ]
