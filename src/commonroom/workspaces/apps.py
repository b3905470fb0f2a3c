from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "commonroom.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from commonroom.workspaces import receivers  # noqa: F401
