"""ASGI entry for servers (granian, uvicorn): settings from `VIDEO_GATEWAY_CONFIG`, read once at start. A start-up
failure is one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import gc
import os
import signal
import sys

from litestar import Litestar

from gateway.app import create_app
from gateway.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    SANDBOX_ENV,
    ConfigError,
    configured_secrets,
    load_settings,
    sandbox_settings,
)
from gateway.logging import configure_logging


def app() -> Litestar:
    # Until the app's own handler is installed at start-up, a SIGHUP must not end the worker (the default).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config_path = os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)
    sandbox = os.environ.get(SANDBOX_ENV) == "1"
    try:
        settings = load_settings(config_path)
        if sandbox:
            settings = sandbox_settings(settings)
        configure_logging(settings.log_level, secrets=configured_secrets(settings))
        application = create_app(settings, config_path=config_path, sandbox=sandbox)
    except ConfigError as exc:
        print(f"video-gateway: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    # The app graph lives as long as the process: keep it out of every later full collection (p99 latency).
    gc.collect()
    gc.freeze()
    return application
