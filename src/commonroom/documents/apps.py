from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "commonroom.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from commonroom.audit.files import add_files_check
        from commonroom.documents import receivers
        from commonroom.documents.integrity import version_files_check

        # Final records under retention are deleted by nobody, whatever the way (receivers).
        receivers.connect()

        # `audit verify --files` checks every version's file (audit imports no documents).
        add_files_check(version_files_check)
