from django.apps import AppConfig


class WebdavConfig(AppConfig):
    name = "commonroom.webdav"
    label = "webdav"
    verbose_name = "WebDAV"
