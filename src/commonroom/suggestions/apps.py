from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "commonroom.suggestions"
    label = "suggestions"
    verbose_name = "Suggestions"

    def ready(self) -> None:
        from commonroom.suggestions import receivers

        receivers.connect()
