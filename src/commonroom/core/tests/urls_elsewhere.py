"""Another URL configuration, for ``test_url_tag``: "home" at another address."""

from django.http import HttpResponse
from django.urls import path


def _nothing(request: object) -> HttpResponse:
    return HttpResponse()


urlpatterns = [path("elsewhere/", _nothing, name="home")]
