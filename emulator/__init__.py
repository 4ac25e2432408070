"""The provider emulator: Gemini's and Perplexity's HTTP APIs, close enough for their
official SDKs, with realistic answers, usage, latency and citations, and a control API
to inject faults per provider. `python -m emulator` serves it on 127.0.0.1:8090."""

from emulator.app import create_app

__all__ = ["create_app"]
