"""Perplexity Sonar and Sonar Pro through the official `openai` SDK at Perplexity's base URL.

Perplexity answers in the OpenAI chat-completions shape plus two top-level
extras the SDK keeps in `model_extra`: `citations` (URLs) and `search_results`
({title, url, date}); both end up in `ProviderReply.citations` (streamed, they come
with the chunks). Without `PERPLEXITY_API_KEY` the client talks to the provider
emulator instead. Streaming, limits and errors: providers/openai_compatible.py.
"""

from __future__ import annotations

import logging
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from providers.base import SourceRef
from providers.catalogue import SONAR
from providers.openai_compatible import OpenAICompatibleProvider
from providers.settings import ProviderSettings

logger = logging.getLogger(__name__)

PROBE_MAX_TOKENS = 1


class PerplexityProvider(OpenAICompatibleProvider):
    """`Provider` for Perplexity. Raises only `providers.errors.ProviderError` subclasses.

    `probe` is a one-token chat completion on `probe_model`: Perplexity's API has
    no free endpoint (no models list), so with a real key **every probe is a
    billed request**: Sonar's per-request fee ($0.005 at low search context) plus
    a few tokens. Probing once a second costs about $430 a day; with a real key,
    probe every minute or so (about $7 a day) and rely on attempt events in between.
    Against the emulator probes cost nothing.
    """

    def __init__(
        self, *, settings: ProviderSettings, probe_model: str = SONAR, stream: bool = True
    ) -> None:
        super().__init__(
            name="perplexity",
            base_url=settings.perplexity_base_url,
            api_key=settings.perplexity_key(),
            emulated=settings.perplexity_emulated,
            probe_model=probe_model,
            stream=stream,
        )
        self.probe_model: str = probe_model

    async def probe(self, timeout_s: float) -> None:
        """A one-token completion (see the class docstring for what it costs with a real key)."""
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "ping"}]
        await self._create(self.probe_model, messages, PROBE_MAX_TOKENS, timeout_s)

    def _extras(self, extra: dict[str, Any], usage_extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "citations": citations_from(extra.get("citations"), extra.get("search_results")),
            "search_queries": int(usage_extra.get("num_search_queries") or 0),
        }


def citations_from(citations: Any, search_results: Any) -> tuple[SourceRef, ...]:
    """Cited URLs in Perplexity's order, with title and date from `search_results` when given.

    Search results the answer did not cite are kept after the cited ones.
    """
    details: dict[str, dict[str, Any]] = {}
    for result in search_results if isinstance(search_results, list) else []:
        if isinstance(result, dict) and isinstance(result.get("url"), str):
            details.setdefault(result["url"], result)
    urls = [url for url in citations if isinstance(url, str)] if isinstance(citations, list) else []
    urls += [url for url in details if url not in urls]
    refs = []
    for url in dict.fromkeys(urls):
        info = details.get(url, {})
        title, date = info.get("title"), info.get("date")
        refs.append(
            SourceRef(
                url=url,
                title=title if isinstance(title, str) and title else None,
                date=date if isinstance(date, str) and date else None,
            )
        )
    return tuple(refs)
