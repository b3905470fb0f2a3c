from django.apps import AppConfig


class PreviewsConfig(AppConfig):
    name = "commonroom.previews"
    label = "previews"
    verbose_name = "Previews"
