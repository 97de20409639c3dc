"""What the Veo adapter tests share: the documented fixtures and one settings object per API."""

from __future__ import annotations

from pathlib import Path

from providers.contract import ProviderSettings

FIXTURES = Path(__file__).parent / "fixtures"
GEMINI = ProviderSettings(base_url="https://generativelanguage.googleapis.com", api_key="AIza-test")
VERTEX = ProviderSettings(
    base_url="https://us-central1-aiplatform.googleapis.com",
    api_key="ya29.test",
    options={"api": "vertex", "project": "my-project", "location": "us-central1", "storage_uri": "gs://my-bucket/veo"},
)
