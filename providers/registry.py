"""Build every provider client from one `ProviderSettings` and the catalogue, and close them.

The built-in providers (Gemini, Perplexity, the local model) always exist; each provider
the catalogue declares as `openai_compatible` gets the generic client (and replaces a
built-in client of the same name). Its key comes from the environment variable the
catalogue names; without it the client talks to the emulator's OpenAI-compatible API.

Provider names are open (schemas.base.ProviderName), so a name a setting or a route gives
may have no client: `select_providers` refuses it by name instead of a bare KeyError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from providers.base import Provider
from providers.catalogue import Catalogue, ProviderSpec
from providers.gemini import GeminiProvider
from providers.local import LocalProvider
from providers.openai_compatible import OpenAICompatibleProvider
from providers.perplexity import PerplexityProvider
from providers.settings import EMULATOR_PLACEHOLDER_KEY, ProviderSettings
from schemas.base import GEMINI, LOCAL, PERPLEXITY, ProviderName

logger = logging.getLogger(__name__)

EMULATOR_OPENAI_PATH = "/openai/v1"
"""Where the emulator serves its plain OpenAI-compatible API."""


def build_providers(
    settings: ProviderSettings, catalogue: Catalogue | None = None
) -> dict[ProviderName, Provider]:
    """One client per provider; nothing connects until the first call.

    `catalogue` None: the one at `settings.catalogue_path` (or the built-in one).
    """
    if catalogue is None:
        catalogue = Catalogue.load(settings.catalogue_path)
    providers: dict[ProviderName, Provider] = {
        GEMINI: GeminiProvider(settings=settings),
        PERPLEXITY: PerplexityProvider(settings=settings),
        LOCAL: LocalProvider(settings=settings),
    }
    for spec in catalogue.providers:
        providers[spec.name] = openai_compatible_client(spec, settings)
    for name, provider in providers.items():
        logger.info(
            "provider=%s target=%s", name, "emulator" if provider.emulated else "real service"
        )
    return providers


class UnknownProvider(KeyError):
    """A provider name with no client: neither built in nor declared in the catalogue."""

    def __init__(self, names: Iterable[str], known: Iterable[str]) -> None:
        self.names = tuple(names)
        self.known = tuple(known)
        super().__init__(
            f"no provider named {', '.join(map(repr, self.names))}: not built in and not "
            f"declared in the catalogue (CATALOGUE_PATH); known: {', '.join(self.known)}"
        )

    def __str__(self) -> str:
        return str(self.args[0])


def select_providers(
    providers: Mapping[ProviderName, Provider], names: Iterable[str]
) -> dict[ProviderName, Provider]:
    """The clients of `names`, in that order (for a setting such as the health service's
    monitored providers). Raises UnknownProvider naming every name without a client."""
    wanted = list(dict.fromkeys(names))
    missing = [name for name in wanted if name not in providers]
    if missing:
        raise UnknownProvider(missing, providers)
    return {name: providers[name] for name in wanted}


def openai_compatible_client(
    spec: ProviderSpec, settings: ProviderSettings
) -> OpenAICompatibleProvider:
    """The generic client for a declared provider: its key from `spec.api_key_env`."""
    key = settings.secret_from_env(spec.api_key_env)
    if key is None:
        return OpenAICompatibleProvider(
            name=spec.name,
            base_url=settings.emulator_url.rstrip("/") + EMULATOR_OPENAI_PATH,
            api_key=EMULATOR_PLACEHOLDER_KEY,
            emulated=True,
        )
    return OpenAICompatibleProvider(
        name=spec.name, base_url=spec.base_url, api_key=key, emulated=False
    )


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
