from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "commonroom.live"
    label = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from commonroom.live import receivers

        receivers.connect()
