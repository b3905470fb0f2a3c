"""Single sign-on over OpenID Connect, through allauth's ``openid_connect`` provider.

Staff sign in with their organisation's identity provider (NHSmail / Entra ID, NHS CIS2),
configured from the environment (settings.py, "Single sign-on"). allauth does the protocol; this
module tightens it where a trust needs more than allauth's defaults:

- a ``nonce`` is sent with every authorisation request, kept in allauth's state and compared
  with the ID token's (allauth sends PKCE, switched on in settings, but no nonce);
- the ID token's signature is always checked against the issuer's published keys, with a minute
  of leeway for clocks (allauth skips the check when the token came straight from the token
  endpoint, which the specification allows over TLS; we would rather not trust the transport);
- no request parameter can add to what is asked of the provider (allauth lets ``?auth_params=``
  and ``?scope=`` through);
- the provider being down, a refused domain and a bad token each end on a page with a sentence,
  never a 500;
- what the provider says of its own second factor (``amr``/``acr``) is kept in the session and
  the audit trail, and spares staff a second one here (selectors.sso_second_factor);
- signing out also signs out at the provider, when it offers an ``end_session_endpoint``.

The rules (which addresses may use it, what counts as a second factor) are in ``selectors``;
this module is the boundary with allauth and holds none of its own.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.stages import AuthenticateStage
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from requests import RequestException

from commonroom.accounts.models import User, UserKind
from commonroom.accounts.selectors import SSO_SESSION_KEY, sso_refusal, sso_second_factor
from commonroom.core.request_info import RequestInfo

log = logging.getLogger(__name__)

# What this session's sign-in through the provider said, kept for the policy and signing out.
SESSION_KEY = SSO_SESSION_KEY
# Set on the request by the callback, read by the sign-in receivers and the login stage.
REQUEST_ATTR = "commonroom_sso"
CLOCK_LEEWAY = 60  # seconds either way between our clock and the provider's


def sso_apps() -> list[dict[str, Any]]:
    return list(settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", []))


class Provider(OpenIDConnectProvider):
    """allauth's OpenID Connect provider with a nonce, and nothing added from the request."""

    # allauth finds a provider's URLs (and templates) by its package: the provider's own.
    package = "allauth.socialaccount.providers.openid_connect"

    def get_oauth2_adapter(self, request: HttpRequest) -> Adapter:
        return Adapter(request, self.app.provider_id)

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict[str, Any]:
        return self.get_auth_params()

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        # The nonce goes into allauth's state (kept in this browser's session) beside PKCE's
        # verifier; the callback compares it with the ID token's.
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class Adapter(OpenIDConnectOAuth2Adapter):
    """The provider's endpoints, with every ID token's signature checked."""

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        # PyJWT is loaded by the first sign-in through the provider, not by every process that
        # loads this module at start (allauth does, for the provider's class).
        import jwt

        try:
            algorithm, key = jwtkit.fetch_key(
                id_token, self.openid_config["jwks_uri"], jwtkit.lookup_kid_jwk
            )
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[algorithm],
                audience=app.client_id,
                issuer=self.openid_config["issuer"],
                leeway=CLOCK_LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, KeyError) as e:
            raise OAuth2Error(f"Invalid id_token: {e}") from e
        jwtkit.verify_jti(claims)
        # Kept for this request: the sign-in that follows records it in the session.
        setattr(
            self.request,
            REQUEST_ATTR,
            {
                "id_token": id_token,
                "claims": claims,
                "end_session_endpoint": self.openid_config.get("end_session_endpoint", ""),
                "provider_id": self.provider_id,
            },
        )
        return claims


def _error_page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "socialaccount/sso_error.html", {"message": message}, status=status)


UNREACHABLE = (
    "{label} is not answering at the moment, so you cannot sign in with it just now. "
    "Try again in a few minutes; if it keeps happening, tell your IT service desk."
)


def _label() -> str:
    return str(settings.COMMONROOM_OIDC_LABEL).removeprefix("Sign in with ").strip() or "Sign-in"


def _answer(view_class: Any, request: HttpRequest, provider_id: str) -> HttpResponse:
    """allauth's view with our adapter; an unknown provider is 404, the provider unreachable a
    sentence."""
    try:
        view = view_class.adapter_view(Adapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404() from None
    except RequestException as e:
        log.warning("single sign-on: the provider could not be reached: %s", e)
        return _error_page(request, UNREACHABLE.format(label=_label()), 503)


def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Start signing in at the provider."""
    return _answer(OAuth2LoginView, request, provider_id)


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Back from the provider."""
    return _answer(OAuth2CallbackView, request, provider_id)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Refuse before anything is linked or made: a nonce that is not ours, an address
        outside the configured domains or not verified by the provider."""
        from commonroom.accounts.services import sign_in_failure_record

        record = getattr(request, REQUEST_ATTR, None) or {}
        claims = record.get("claims", {})
        expected = (sociallogin.state or {}).get("nonce")
        if not expected or not secrets.compare_digest(str(claims.get("nonce", "")), expected):
            raise OAuth2Error("The ID token's nonce is not the one sent with this sign-in.")
        addresses = sociallogin.email_addresses
        email = addresses[0].email if addresses else ""
        verified = bool(addresses and addresses[0].verified)
        refusal = sso_refusal(email=email, verified=verified)
        if refusal is not None:
            sign_in_failure_record(
                credentials={"email": email},
                info=RequestInfo.from_request(request),
                data={"reason": "sso_refused", "provider": record.get("provider_id", "")},
            )
            raise ImmediateHttpResponse(_error_page(request, refusal, 403))
        if sociallogin.is_existing and not sociallogin.account.pk:
            # An account of ours with this address, about to be linked. Its address was proved
            # when it was made (an invitation accepted from it, or an administrator), so it is
            # marked verified: allauth would otherwise wipe its password on linking.
            EmailAddress.objects.update_or_create(
                user=sociallogin.user,
                email__iexact=email,
                defaults={"email": email, "verified": True, "primary": True},
            )

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        """Every failed sign-in through the provider is audited, and ends on our page."""
        from commonroom.accounts.services import sign_in_failure_record

        cancelled = str(error) == "cancelled"
        sign_in_failure_record(
            credentials={},
            info=RequestInfo.from_request(request),
            data={
                "reason": "sso_cancelled" if cancelled else "sso_failed",
                "detail": str(exception or error or "")[:200],
            },
        )
        if cancelled:
            message = "You cancelled signing in. Nothing was changed."
        elif isinstance(exception, RequestException):
            message = UNREACHABLE.format(label=_label())
        else:
            message = (
                f"Signing in with {_label()} did not work: its answer could not be trusted or "
                "had expired. Try again; if it keeps happening, tell your IT service desk."
            )
        raise ImmediateHttpResponse(
            _error_page(request, message, 503 if isinstance(exception, RequestException) else 400)
        )

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """Open to the configured domains only; pre_social_login has refused the rest."""
        return True

    def populate_user(
        self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]
    ) -> User:
        """A first sign-in makes a staff account with the provider's name for the person."""
        user = sociallogin.user
        if not isinstance(user, User):  # allauth makes it with our adapter's new_user
            raise TypeError("a social login's user is not a Commonroom user")
        user.email = str(data.get("email") or "").strip()
        name = data.get("name") or " ".join(
            part for part in (data.get("first_name"), data.get("last_name")) if part
        )
        user.full_name = str(name or "").strip()[:150]
        user.kind = UserKind.STAFF
        return user


class SsoAwareAuthenticateStage(AuthenticateStage):
    """allauth's second-factor step, not asked again of someone whose provider says it did one
    (its ``amr``/``acr``, as ``selectors.sso_second_factor`` reads them)."""

    def _should_handle(self, request: HttpRequest) -> bool:
        record = getattr(request, REQUEST_ATTR, None)
        if record and sso_second_factor(record.get("claims", {})):
            return False
        return super()._should_handle(request)


def session_record(request: HttpRequest) -> None:
    """After a sign-in through the provider: what it said, kept in this session."""
    record = getattr(request, REQUEST_ATTR, None)
    session = getattr(request, "session", None)
    if record is None or session is None:
        return
    claims = record.get("claims", {})
    session[SESSION_KEY] = {
        "provider_id": record.get("provider_id", ""),
        "amr": [str(v) for v in claims.get("amr", []) if isinstance(v, str)][:10],
        "acr": str(claims.get("acr", ""))[:100],
        "second_factor": sso_second_factor(claims),
        "id_token": record.get("id_token", ""),
        "end_session_endpoint": record.get("end_session_endpoint", ""),
    }


def sign_in_data(request: HttpRequest | None) -> dict[str, Any] | None:
    """What the audit trail says of a sign-in through the provider (None for a password)."""
    record = getattr(request, REQUEST_ATTR, None) if request is not None else None
    if record is None:
        return None
    claims = record.get("claims", {})
    return {
        "method": "sso",
        "provider": record.get("provider_id", ""),
        "amr": [str(v) for v in claims.get("amr", []) if isinstance(v, str)][:10],
        "acr": str(claims.get("acr", ""))[:100],
        "second_factor_at_provider": sso_second_factor(claims),
    }


def end_session_url(record: dict[str, Any] | None, request: HttpRequest) -> str | None:
    """Where to send a browser that signs out of a session made through the provider, so that
    it signs out there too; None when the provider offers no such address."""
    if not record or not record.get("end_session_endpoint"):
        return None
    params = {
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("account_login")),
        "client_id": next(
            (
                app.get("client_id", "")
                for app in sso_apps()
                if app.get("provider_id") == record.get("provider_id")
            ),
            "",
        ),
    }
    if record.get("id_token"):
        params["id_token_hint"] = record["id_token"]
    separator = "&" if "?" in record["end_session_endpoint"] else "?"
    return f"{record['end_session_endpoint']}{separator}{urlencode(params)}"
