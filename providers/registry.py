"""Build every provider client from one `ProviderSettings`, and close them all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from providers.base import Provider
from providers.gemini import GeminiProvider
from providers.local import LocalProvider
from providers.perplexity import PerplexityProvider
from providers.settings import ProviderSettings
from schemas.base import ProviderName

logger = logging.getLogger(__name__)


def build_providers(settings: ProviderSettings) -> dict[ProviderName, Provider]:
    """One client per provider; nothing connects until the first call."""
    providers: dict[ProviderName, Provider] = {
        "gemini": GeminiProvider(settings=settings),
        "perplexity": PerplexityProvider(settings=settings),
        "local": LocalProvider(settings=settings),
    }
    for name, provider in providers.items():
        logger.info(
            "provider=%s target=%s", name, "emulator" if provider.emulated else "real service"
        )
    return providers


async def close_providers(
    providers: Mapping[ProviderName, Provider] | Mapping[str, Provider],
) -> None:
    """Close every client; one failing to close does not keep the others open."""
    results = await asyncio.gather(
        *(provider.aclose() for provider in providers.values()), return_exceptions=True
    )
    for name, result in zip(providers, results, strict=True):
        if isinstance(result, BaseException):
            logger.warning("provider=%s close failed: %r", name, result)
