"""The extras, the one piece of metadata that needs code: `sandbox` names the emulators' distribution
(sandbox/pyproject.toml) by direct reference, and a direct reference must be an absolute URL (pip refuses
`file:./sandbox` as "Invalid URL given"), so it is computed from this checkout. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup

SANDBOX_URL = (Path(__file__).resolve().parent / "sandbox").as_uri()

setup(
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-asyncio>=0.24",
            "pytest-xdist>=3.6",
            "ruff>=0.6",
            "mypy>=1.11",
            "import-linter>=2.0",
            "openai>=2.0",
            # Validates the rendered Kubernetes overlays against the API's own schemas, offline (tests/deploy).
            "kubernetes-validate>=1.30",
            # Fuzzes the live gateway against the committed OpenAPI document (tests/e2e/test_openapi_conformance.py).
            "schemathesis>=4.0",
            # Drives Debian's headless Chromium through its chromedriver for the console's browser tests
            # (tests/console): no browser download, unlike playwright.
            "selenium>=4.40",
        ],
        # `pip install '.[sandbox]'` from a checkout: the emulators for `make run`, tests and benches. Never in
        # `pip install .` nor the Docker image. A wheel built here points at this checkout's sandbox/.
        "sandbox": [f"video-gateway-sandbox @ {SANDBOX_URL}"],
    },
)
