"""Standard Webhooks signatures (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`. Pure; the key never leaves here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from gateway.config import ConfigError
from gateway.webhooks.settings import WebhookSettings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret
# The spec asks for 24 to 64 random bytes.
_MIN_KEY_BYTES = 24
_MAX_KEY_BYTES = 64


class SigningSecret:
    """A team's HMAC key. Its repr says nothing about the key, so it is safe wherever it ends up printed."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "SigningSecret(<redacted>)"

    @classmethod
    def parse(cls, text: str) -> SigningSecret:
        """`whsec_<base64>`; the error says what is wrong with it, never what it is."""
        if not text.startswith(SECRET_PREFIX):
            raise ValueError(f"a signing secret starts with `{SECRET_PREFIX}`")
        try:
            key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"the part after `{SECRET_PREFIX}` is not valid base64") from exc
        if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
            raise ValueError(f"the key must be {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes, not {len(key)}")
        return cls(key)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
        digest = hmac.new(self._key, signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: SigningSecret, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (the id is the same on every retry)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": secret.sign(msg_id, timestamp, body),
    }


def team_secrets(settings: WebhookSettings) -> dict[str, SigningSecret]:
    """Every configured team's secret, read from the environment at start-up; a missing or malformed one stops
    the start with the env var's name (never its value)."""
    secrets: dict[str, SigningSecret] = {}
    for team, config in settings.teams.items():
        where = f"webhooks.teams.{team}.secret_env"
        value = os.environ.get(config.secret_env)
        if not value:
            raise ConfigError(f"{where}: environment variable {config.secret_env} is not set")
        try:
            secrets[team] = SigningSecret.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: environment variable {config.secret_env}: {exc}") from None
    return secrets
