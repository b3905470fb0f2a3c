from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "commonroom.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Every model admin is registered by now (the admin site finds them when it is ready,
        # before this app: INSTALLED_APPS order).
        from commonroom.audit.admin_changes import audit_admin_site

        audit_admin_site()
