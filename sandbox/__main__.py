"""`python -m sandbox --serve vidgen=127.0.0.1:9101=VIDGEN_API_KEY`: run emulators until stopped.

Each emulator accepts the key held in the named environment variable (the gateway reads the same one)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

from sandbox.registry import EMULATORS
from sandbox.serving import serve_app


async def _serve_all(specs: list[tuple[str, str, int, str]], time_scale: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for provider, host, port, key_env in specs:
            app = EMULATORS[provider](os.environ[key_env], time_scale)
            url = await stack.enter_async_context(serve_app(app, host=host, port=port))
            print(f"sandbox {provider} emulator on {url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    parser.add_argument("--serve", action="append", default=[], help="SLUG=HOST:PORT=KEY_ENV")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    specs = []
    for spec in args.serve:
        provider, netloc, key_env = spec.split("=")
        if provider not in EMULATORS:
            parser.error(f"no emulator for {provider!r} (known: {', '.join(EMULATORS)})")
        host, _, port = netloc.rpartition(":")
        specs.append((provider, host, int(port), key_env))
    asyncio.run(_serve_all(specs, args.time_scale))


if __name__ == "__main__":
    main()
