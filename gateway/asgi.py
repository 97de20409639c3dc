"""ASGI entry for servers (granian, uvicorn): settings from `VIDEO_GATEWAY_CONFIG`, read once at start."""

from __future__ import annotations

import gc
import os
import signal

from litestar import Litestar

from gateway.app import create_app
from gateway.config import configured_secrets, load_settings
from gateway.logging import configure_logging

CONFIG_ENV = "VIDEO_GATEWAY_CONFIG"
DEFAULT_CONFIG = "deploy/gateway.example.toml"


def app() -> Litestar:
    # Until the app's own handler is installed at start-up, a SIGHUP must not end the worker (the default).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config_path = os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)
    settings = load_settings(config_path)
    configure_logging(settings.log_level, secrets=configured_secrets(settings))
    application = create_app(settings, config_path=config_path)
    # The app graph lives as long as the process: keep it out of every later full collection (p99 latency).
    gc.collect()
    gc.freeze()
    return application
