"""Emulator of the OpenAI video API (and Azure OpenAI's v1 flavour of it)."""
