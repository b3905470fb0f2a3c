from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "commonroom.documents"
    label = "documents"
    verbose_name = "Documents"
