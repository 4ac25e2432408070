"""Recognise the HTTP-layer exceptions the SDKs let through, whichever httpx they use.

google-genai and openai now send through `httpx2` (a fork of httpx under its own
import name) and fall back to `httpx`; their timeouts and connection errors
are instances of one or the other, so clients check both.
"""

from __future__ import annotations

import importlib


def _classes(attr: str) -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


HTTP_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, *_classes("TimeoutException"))
"""Connect, read, write and pool timeouts, and asyncio's own."""
HTTP_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    *_classes("TransportError"),
)
"""Refused, reset or broken connections and protocol errors (checked after timeouts)."""
