from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "commonroom.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from commonroom.accounts import receivers  # noqa: F401
