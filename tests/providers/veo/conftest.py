"""What the Veo adapter tests share: the documented fixtures, one settings object per API, the Gemini docs'
example prompt, a tiny inline image, and one operation name of each API as the fixtures name them."""

from __future__ import annotations

from pathlib import Path

from providers.contract import ImageData, ProviderSettings

FIXTURES = Path(__file__).parent / "fixtures"
GEMINI = ProviderSettings(base_url="https://generativelanguage.googleapis.com", api_key="AIza-test")
VERTEX = ProviderSettings(
    base_url="https://us-central1-aiplatform.googleapis.com",
    api_key="ya29.test",
    options={"api": "vertex", "project": "my-project", "location": "us-central1", "storage_uri": "gs://my-bucket/veo"},
)
PROMPT = "A close up of two people staring at a cryptic drawing on a wall, torchlight flickering."
PNG = ImageData(mime_type="image/png", data=b"\x89PNG", digest="0" * 64)
GEMINI_OP = "models/veo-3.0-generate-001/operations/zmnc0w0ohr5m"
VERTEX_OP = (
    "projects/my-project/locations/us-central1/publishers/google/models/veo-3.0-generate-001"
    "/operations/a1b07c8e-7b5a-4aba-bb34-3e1ccb8afcc8"
)
