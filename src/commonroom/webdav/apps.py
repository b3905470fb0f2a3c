from django.apps import AppConfig


class WebdavConfig(AppConfig):
    name = "commonroom.webdav"
    label = "webdav"
    verbose_name = "WebDAV"

    def ready(self) -> None:
        from commonroom.webdav import receivers

        # Documents' pages and new versions ask which documents WebDAV's locks hold.
        receivers.connect()
