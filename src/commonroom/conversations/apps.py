from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "commonroom.conversations"
    label = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from commonroom.conversations import receivers

        receivers.connect()
