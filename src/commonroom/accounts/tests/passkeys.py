"""A passkey held in software, for signing in through allauth's real WebAuthn views without a
browser: the key pair and credential a platform authenticator would make, stored as allauth
stores a passkey added from the second-factor page, and the assertion it would sign for a
challenge the server hands out (``Passkey.sign_in``)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.webauthn.internal.auth import WebAuthn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse
from fido2.cose import ES256
from fido2.utils import websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

ORIGIN = "http://testserver"
RP_ID = "testserver"
FLAGS = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV


@dataclass
class Passkey:
    user: Any
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    counter: int = 0

    def add(self) -> Passkey:
        """Stored as allauth stores a passwordless passkey added by its owner."""
        public = ES256.from_cryptography_key(self.key.public_key())
        attested = AttestedCredentialData.create(b"\0" * 16, self.credential_id, public)
        auth_data = AuthenticatorData.create(
            hashlib.sha256(RP_ID.encode()).digest(), FLAGS | AuthenticatorData.FLAG.AT, 0, attested
        )
        client_data = CollectedClientData.create("webauthn.create", secrets.token_bytes(16), ORIGIN)
        WebAuthn.add(
            self.user,
            "Work laptop",
            {
                "id": websafe_encode(self.credential_id),
                "rawId": websafe_encode(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "response": {
                    "clientDataJSON": websafe_encode(client_data),
                    "attestationObject": websafe_encode(
                        AttestationObject.create("none", auth_data, {})
                    ),
                },
                "clientExtensionResults": {"credProps": {"rk": True}},
            },
        )
        return self

    def sign_in(self, client: Client, **extra: Any) -> Any:
        """What the sign-in page's "Sign in with a passkey" does: ask the server for a
        challenge, sign it, send the assertion. The final response."""
        url = reverse("mfa_login_webauthn")
        begun = client.get(url, HTTP_ACCEPT="application/json", **extra)
        assert begun.status_code == 200, begun.status_code
        challenge = begun.json()["request_options"]["publicKey"]["challenge"]
        return self.answer(client, url, challenge, **extra)

    def after_password(self, client: Client, *, forged: bool = False, **extra: Any) -> Any:
        """The passkey offered as the second step, after the password (allauth's
        ``mfa_authenticate``), the challenge read from the page; ``forged``: its signature
        spoilt, as an attacker without the key would send. The final response."""
        url = reverse("mfa_authenticate")
        page = client.get(url, **extra)
        assert page.status_code == 200, page.status_code
        challenge = page.context["js_data"]["request_options"]["publicKey"]["challenge"]
        return self.answer(client, url, challenge, forged=forged, **extra)

    def answer(
        self, client: Client, url: str, challenge: str, *, forged: bool = False, **extra: Any
    ) -> Any:
        """``challenge`` signed and posted to ``url``."""
        client_data = CollectedClientData.create("webauthn.get", challenge, ORIGIN)
        self.counter += 1
        auth_data = AuthenticatorData.create(
            hashlib.sha256(RP_ID.encode()).digest(), FLAGS, self.counter
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        if forged:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        assertion = {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "authenticatorData": websafe_encode(auth_data),
                "signature": websafe_encode(signature),
                "userHandle": websafe_encode(user_pk_to_url_str(self.user).encode()),
            },
            "clientExtensionResults": {},
        }
        return client.post(url, {"credential": json.dumps(assertion)}, **extra)
