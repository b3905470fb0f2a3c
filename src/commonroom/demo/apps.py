from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo installation (``commonroom demo``): seeded through the other apps' services, so
    ``core`` needs to know none of them."""

    name = "commonroom.demo"
    label = "demo"
    verbose_name = "Demo"
