"""Secrets out of text: every configured secret (provider and client keys, webhook secrets, the Redis password,
the metrics token), any run of 8 or more of its characters (providers echo key fragments: "Invalid API key:
sk-abcd1234…"), and bearer tokens. Text from a provider is also bounded and stripped of control characters."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
# The shortest run of a secret's characters that counts as a leak of it: shorter runs are the 4-character heads
# and tails providers print as masks. A configured "secret" shorter than this is no secret (and masking it
# everywhere would garble every text), so it is not looked for.
FRAGMENT_CHARS = 8
# Provider text kept on a job record, in a reply or a log line: enough for any real error message.
PROVIDER_TEXT_CHARS = 1_000
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._fragments = frozenset(
            s[i : i + FRAGMENT_CHARS] for s in secrets for i in range(len(s) - FRAGMENT_CHARS + 1)
        )

    def scrub(self, text: str) -> str:
        """`text` with every secret, fragment of one and bearer token replaced by [REDACTED]."""
        text = _BEARER.sub(f"Bearer {REDACTED}", text)
        if not self._fragments or len(text) < FRAGMENT_CHARS:
            return text
        return self._without_fragments(text)

    def provider_text(self, text: str) -> str:
        """What may be kept of a text a provider sent: one line of printable text, scrubbed, bounded."""
        text = _CONTROL.sub(" ", text[: PROVIDER_TEXT_CHARS * 2]).strip()
        text = self.scrub(text)
        return text if len(text) <= PROVIDER_TEXT_CHARS else text[: PROVIDER_TEXT_CHARS - 1] + "…"

    def _without_fragments(self, text: str) -> str:
        """Mark every position covered by an 8-character run found in a secret, then replace each marked span."""
        covered = bytearray(len(text))
        for start in range(len(text) - FRAGMENT_CHARS + 1):
            if text[start : start + FRAGMENT_CHARS] in self._fragments:
                covered[start : start + FRAGMENT_CHARS] = b"\x01" * FRAGMENT_CHARS
        if not any(covered):
            return text
        out: list[str] = []
        position = 0
        while position < len(text):
            if covered[position]:
                end = covered.find(b"\x00", position)
                end = len(text) if end < 0 else end
                out.append(REDACTED)
                position = end
            else:
                end = covered.find(b"\x01", position)
                end = len(text) if end < 0 else end
                out.append(text[position:end])
                position = end
        return "".join(out)
