from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "commonroom.audit"
    label = "audit"
    verbose_name = "Audit trail"
