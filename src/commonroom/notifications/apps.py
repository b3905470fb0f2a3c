from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "commonroom.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from commonroom.notifications import receivers

        receivers.connect()
