from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "commonroom.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from commonroom.approvals import receivers

        receivers.connect()
