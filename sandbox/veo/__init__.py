"""Google Veo emulator (Gemini API and Vertex AI long-running operations)."""
