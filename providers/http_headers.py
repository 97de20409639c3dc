"""HTTP header semantics every adapter shares (RFC 9110): case-insensitive lookup, HTTP dates, Retry-After.

Standard HTTP, not vendor knowledge: vendor quirks stay in each adapter's `errors.py`."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC

_DELAY_SECONDS = re.compile(r"\d+(\.\d+)?")


def header(headers: dict[str, str], name: str) -> str | None:
    """The value of header `name` (lower-case), whatever case the reply used."""
    return next((value for key, value in headers.items() if key.lower() == name), None)


def http_date_s(value: str | None) -> float | None:
    """An HTTP date as unix seconds; None if it is not one."""
    try:
        moment = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def retry_after_s(headers: dict[str, str], now_s: float | None) -> float | None:
    """`Retry-After` as delay-seconds or an HTTP date, measured from the reply's `Date` (else `now_s`)."""
    raw = (header(headers, "retry-after") or "").strip()
    if _DELAY_SECONDS.fullmatch(raw):
        return float(raw)
    until_s = http_date_s(raw)
    reference_s = http_date_s(header(headers, "date")) or now_s
    if until_s is None or reference_s is None:
        return None
    return max(0.0, until_s - reference_s)
