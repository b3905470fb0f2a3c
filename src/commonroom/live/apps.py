from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "commonroom.live"
    label = "live"
    verbose_name = "Live updates"
