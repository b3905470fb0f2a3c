from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "commonroom.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from commonroom.core.process import not_dumpable

        # Every Commonroom process (server, task worker, commands) hides its memory and
        # environment from the preview sandbox's children.
        not_dumpable()
