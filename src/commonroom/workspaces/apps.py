from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "commonroom.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"
