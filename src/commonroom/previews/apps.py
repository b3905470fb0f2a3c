from django.apps import AppConfig


class PreviewsConfig(AppConfig):
    name = "commonroom.previews"
    label = "previews"
    verbose_name = "Previews"

    def ready(self) -> None:
        from commonroom.previews import (
            checks,  # noqa: F401 (registers the system checks)
            receivers,
        )

        receivers.connect()
