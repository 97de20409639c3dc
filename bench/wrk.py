"""wrk (`apt-get install wrk`) as the benches' load generator: one thread, a fixed number of connections, any
method, headers and body (through a Lua script), and what it printed read back. A C client costs the 2-core
machine a few per cent of a core where a Python one costs most of one, so the server, not the client, sets the
figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

_SCRIPT = """wrk.method = {method}
wrk.body = {body}
{headers}
"""


def require_wrk() -> None:
    """Exit with the install hint when wrk is missing, before a bench starts any server."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")


class WrkRun(msgspec.Struct, frozen=True, kw_only=True):
    requests: int
    non_2xx: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: str | None

    @property
    def answered(self) -> int:
        """Requests answered 2xx (or 3xx)."""
        return self.requests - self.non_2xx

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    *,
    duration_s: float,
    connections: int,
    headers: dict[str, str],
    method: str = "GET",
    body: bytes | None = None,
) -> WrkRun:
    """One run of `duration_s` seconds at `connections` connections (no warm-up: run a short one first)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "request.lua"
        lines = "\n".join(f"wrk.headers[ {_lua(name)} ] = {_lua(value)}" for name, value in headers.items())
        text = _SCRIPT.format(method=_lua(method), body="nil" if body is None else _lua(body.decode()), headers=lines)
        script.write_text(text, encoding="utf-8")
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--latency", "--timeout", "60s"]
        out = subprocess.run(  # noqa: S603 - fixed argv
            [*argv, "-s", str(script), url], capture_output=True, text=True, check=True
        ).stdout
    sent = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if sent is None:
        raise RuntimeError(f"wrk printed no request count: {out}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return WrkRun(
        requests=int(sent.group(1)),
        non_2xx=int(failed.group(1)) if failed else 0,
        seconds=float(sent.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[sent.group(3)],
        p50_ms=_latency_ms(out, "50%"),
        p99_ms=_latency_ms(out, "99%"),
        socket_errors=None if socket_errors is None else socket_errors.group(1),
    )


def _latency_ms(out: str, pct: str) -> float:
    found = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no {pct} latency: {out}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _lua(text: str) -> str:
    """A Lua string literal (long brackets: nothing in `text` needs escaping unless it closes them). As a table
    index it needs a space after the `[`: `[[` would open a long string."""
    if "]==]" in text:
        raise ValueError("text closes a Lua long bracket")
    return f"[==[{text}]==]"
