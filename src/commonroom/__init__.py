"""Commonroom: a secure collaboration workspace for health and care organisations."""

from commonroom.core.deferred_imports import defer

# Modules some libraries import at their top for what only a few requests use, run by the first
# of those requests (decision 44): allauth's passkey ceremonies (fido2, cryptography),
# django-ninja's one signal from django.test (the test client, unittest, Jinja2), and sqlparse,
# which Django's database backends import for SQL scripts and introspection (migrations, shell).
# And requests with charset_normalizer (decision 49): allauth's OpenID Connect provider imports
# it for the calls a sign-in through the identity provider makes to it, and its OAuth2 views
# take one name at their import, the exception class they catch, which requests' body itself
# takes from requests.exceptions: that one is answered from there without running the rest.
# Here, before any of them can be imported: whatever the process is (`commonroom serve`, uvicorn
# given commonroom.asgi, a command), it imports this package first.
defer(
    "allauth.mfa.webauthn.internal.auth",
    "django.test",
    "sqlparse",
    "requests",
    "charset_normalizer",
    answers={"requests": {"RequestException": "requests.exceptions"}},
)
