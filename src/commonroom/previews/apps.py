from django.apps import AppConfig


class PreviewsConfig(AppConfig):
    name = "commonroom.previews"
    label = "previews"
    verbose_name = "Previews"

    def ready(self) -> None:
        from commonroom.core import metrics
        from commonroom.previews import (
            checks,  # noqa: F401 (registers the system checks)
            receivers,
        )

        receivers.connect()
        # The metrics report the previews waiting to be made (core.metrics).
        metrics.queue_watched("previews", task_path_prefix="commonroom.previews.tasks.")
