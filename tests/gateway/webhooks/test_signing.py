"""Standard Webhooks signing and the team secrets it uses: the spec's published test vector, secrets that never
show in a repr or an error, and start-up refusing a missing or malformed secret by naming its env var."""

from __future__ import annotations

import base64

import pytest

from gateway.config import ConfigError, configured_secrets, parse_settings
from gateway.webhooks.settings import WebhookSettings, WebhookTeam
from gateway.webhooks.signing import SigningSecret, signed_headers, team_secrets

# From the Standard Webhooks reference library's tests (libraries/python/tests/test_webhooks.py, test_sign_function).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specs_test_vector() -> None:
    """Our signer gives the reference library's signature for its published id, timestamp, body and secret."""
    secret = SigningSecret.parse(VECTOR_SECRET)

    assert secret.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    """The three headers; a changed body or timestamp changes the signature."""
    secret = SigningSecret.parse(VECTOR_SECRET)
    headers = signed_headers(secret, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)

    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert secret.sign(VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY) != VECTOR_SIGNATURE
    assert secret.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY + b" ") != VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with `whsec_`"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "24 to 64 bytes"),
    ],
)
def test_malformed_secrets_are_refused_without_echoing_them(text: str, problem: str) -> None:
    """Each error says what is wrong and never contains the value."""
    with pytest.raises(ValueError, match=problem) as raised:
        SigningSecret.parse(text)
    assert text not in str(raised.value)


def test_a_secret_never_shows_in_its_repr() -> None:
    """Printed, logged or put in an f-string, a secret reads as redacted."""
    secret = SigningSecret.parse(VECTOR_SECRET)

    assert "MfKQ" not in repr(secret)
    assert "MfKQ" not in f"{secret} {[secret]}"


def test_team_secrets_are_read_from_the_named_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    """At start-up each team's env var is read and parsed into its secret."""
    monkeypatch.setenv("TEST_HOOK_SECRET", VECTOR_SECRET)
    settings = WebhookSettings(teams={"team-a": WebhookTeam(secret_env="TEST_HOOK_SECRET")})

    secrets = team_secrets(settings)

    assert secrets["team-a"].sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_missing_or_malformed_team_secret_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error names the config path and the env var, never the value."""
    settings = WebhookSettings(teams={"team-a": WebhookTeam(secret_env="TEST_HOOK_SECRET_UNSET")})
    monkeypatch.delenv("TEST_HOOK_SECRET_UNSET", raising=False)
    with pytest.raises(ConfigError, match=r"webhooks\.teams\.team-a\.secret_env: .*TEST_HOOK_SECRET_UNSET is not set"):
        team_secrets(settings)

    monkeypatch.setenv("TEST_HOOK_SECRET_UNSET", "whsec_c2hvcnQ=")
    with pytest.raises(ConfigError, match="24 to 64 bytes") as raised:
        team_secrets(settings)
    assert "c2hvcnQ" not in str(raised.value)


def test_webhook_settings_decode_from_the_config_and_feed_the_log_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """`[webhooks]` keys decode with their defaults; team secrets are among the values the log redactor masks."""
    monkeypatch.setenv("TEST_HOOK_SECRET", VECTOR_SECRET)
    settings = parse_settings(
        '[webhooks]\nretry_schedule_s = [1, 2]\n[webhooks.teams.team-a]\nsecret_env = "TEST_HOOK_SECRET"\n'
    )

    assert settings.webhooks.retry_schedule_s == (1, 2)
    assert settings.webhooks.allow_private_hosts is False
    assert VECTOR_SECRET in configured_secrets(settings)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[webhooks]\nlease_s = 5\ntimeout_s = 10\n", "lease_s (5) must exceed timeout_s (10)"),
        ("[webhooks]\nretry_schedule_s = [0]\n", "$.webhooks.retry_schedule_s[0]"),
        ("[webhooks]\nsecret = 'x'\n", "unknown field `secret`"),
        ("[webhooks.teams.team-a]\nsecret = 'whsec_x'\n", "unknown field `secret`"),
    ],
)
def test_bad_webhook_settings_fail_naming_the_key(text: str, where: str) -> None:
    """A lease no longer than the timeout, a zero wait, or a secret put in the file itself are refused."""
    with pytest.raises(ConfigError) as raised:
        parse_settings(text)
    assert where in str(raised.value)
