"""structlog JSON logging: request and job ids from contextvars, and a processor that redacts secrets."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from gateway.scrubbing import REDACTED, Scrubber

_SECRET_KEYS = re.compile(r"(authorization|api[_-]?key|secret|token|password|x-api-key)", re.IGNORECASE)


class Redactor:
    """Masks values under secret-looking keys, bearer tokens in text, and every known secret value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._scrubber = Scrubber(secrets)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self._clean(key, value)
        return event

    def _clean(self, key: str, value: Any) -> Any:
        if _SECRET_KEYS.search(key):
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        # The JSON renderer prints anything else (bytes, structs, sets) with repr(): scrub that text here,
        # or a secret inside such an object would pass the redactor unseen.
        return self.scrub(repr(value))

    def scrub(self, text: str) -> str:
        return self._scrubber.scrub(text)


def configure_logging(level: str, *, secrets: Iterable[str] = ()) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            Redactor(secrets),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # httpx logs every request URL at INFO in its own format; ours are the structured events.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
