from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "commonroom.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from commonroom.search import receivers

        receivers.connect()
