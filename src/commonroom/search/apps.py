from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "commonroom.search"
    label = "search"
    verbose_name = "Search"
