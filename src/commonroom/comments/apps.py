from django.apps import AppConfig


class CommentsConfig(AppConfig):
    name = "commonroom.comments"
    label = "comments"
    verbose_name = "Comments"

    def ready(self) -> None:
        from commonroom.comments import receivers

        receivers.connect()
