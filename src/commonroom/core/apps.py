from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "commonroom.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from commonroom.core.process import not_dumpable, stop_with_serve

        # Every Commonroom process (server, task worker, commands) hides its memory and
        # environment from the preview sandbox's children.
        not_dumpable()
        # One started by `commonroom serve` (its worker, uvicorn's worker processes) stops
        # when serve dies, even by SIGKILL.
        stop_with_serve()
