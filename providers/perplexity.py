"""Perplexity Sonar and Sonar Pro through the official `openai` SDK at Perplexity's base URL.

Perplexity answers in the OpenAI chat-completions shape plus two top-level
extras the SDK keeps in `model_extra`: `citations` (URLs) and `search_results`
({title, url, date}); both end up in `ProviderReply.citations`. Without
`PERPLEXITY_API_KEY` the client talks to the provider emulator instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from providers.base import CompletionRequest, ProviderReply, SourceRef
from providers.catalogue import SONAR
from providers.errors import (
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    redact,
)
from providers.settings import SDK_MAX_RETRIES, ProviderSettings
from providers.transport import HTTP_TIMEOUTS, HTTP_TRANSPORT_ERRORS
from schemas.base import ProviderName

logger = logging.getLogger(__name__)

CLIENT_TIMEOUT_S = 30.0
"""Client-wide ceiling; each call passes its own, shorter, timeout."""
PROBE_MAX_TOKENS = 1


class PerplexityProvider:
    """`Provider` for Perplexity. Raises only `providers.errors.ProviderError` subclasses.

    `probe` is a one-token chat completion on `probe_model`: Perplexity's API has
    no free endpoint (no models list), so with a real key **every probe is a
    billed request**: Sonar's per-request fee ($0.005 at low search context) plus
    a few tokens. Probing once a second costs about $430 a day; with a real key,
    probe every minute or so (about $7 a day) and rely on attempt events in between.
    Against the emulator probes cost nothing.
    """

    name: ProviderName = "perplexity"

    def __init__(self, *, settings: ProviderSettings, probe_model: str = SONAR) -> None:
        self.emulated = settings.perplexity_emulated
        self.base_url = settings.perplexity_base_url
        self.probe_model = probe_model
        self._key = settings.perplexity_key()
        self._client: openai.AsyncOpenAI | None = None

    def _sdk(self) -> openai.AsyncOpenAI:
        """The SDK client, made on first use (it opens no connection until a call)."""
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._key,
                max_retries=SDK_MAX_RETRIES,
                timeout=CLIENT_TIMEOUT_S,
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """One chat completion within `request.timeout_s`."""
        messages: list[ChatCompletionMessageParam] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        response = await self._create(
            request.model, messages, request.max_output_tokens, request.timeout_s
        )
        return self._reply(response, request.model)

    async def probe(self, timeout_s: float) -> None:
        """A one-token completion (see the class docstring for what it costs with a real key)."""
        await self._create(
            self.probe_model, [{"role": "user", "content": "ping"}], PROBE_MAX_TOKENS, timeout_s
        )

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _create(
        self,
        model: str,
        messages: list[ChatCompletionMessageParam],
        max_tokens: int,
        timeout_s: float,
    ) -> ChatCompletion:
        try:
            return await asyncio.wait_for(
                self._sdk().chat.completions.create(
                    model=model, messages=messages, max_tokens=max_tokens, timeout=timeout_s
                ),
                timeout_s,
            )
        except Exception as err:
            raise self._translate(err, timeout_s) from err

    def _reply(self, response: ChatCompletion, model: str) -> ProviderReply:
        if not response.choices:
            raise ProviderUnavailable(self.name, "response without choices")
        choice = response.choices[0]
        text = choice.message.content or ""
        if not text:
            finish = choice.finish_reason
            raise ProviderUnavailable(self.name, f"empty answer (finish reason {finish})")
        extra = response.model_extra or {}
        usage = response.usage
        usage_extra = (usage.model_extra or {}) if usage is not None else {}
        return ProviderReply(
            text=text,
            model=model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason,
            avg_logprob=None,
            citations=citations_from(extra.get("citations"), extra.get("search_results")),
            search_queries=int(usage_extra.get("num_search_queries") or 0),
        )

    def _translate(self, err: Exception, timeout_s: float) -> ProviderError:
        """Map an SDK, HTTP or asyncio failure to the error tree; the key never leaks."""
        if isinstance(err, ProviderError):
            return err
        if isinstance(err, (openai.APITimeoutError, *HTTP_TIMEOUTS)):
            return ProviderTimeout(self.name, f"no answer within {timeout_s:.1f}s")
        if isinstance(err, openai.APIStatusError):
            message = self._clean(f"HTTP {err.status_code}: {_error_message(err)}")
            if err.status_code == 400 and "context length" in message.lower():
                return ContextTooLong(self.name, message)
            return error_for_status(
                self.name, err.status_code, message, _retry_after_s(err.response.headers)
            )
        if isinstance(err, (openai.APIConnectionError, *HTTP_TRANSPORT_ERRORS)):
            cause = err.__cause__ or err
            return ProviderUnavailable(self.name, self._clean(f"connection failed: {cause!r}"))
        logger.warning("perplexity call failed unexpectedly: %s", type(err).__name__, exc_info=True)
        return ProviderUnavailable(self.name, self._clean(f"{type(err).__name__}: {err}"))

    def _clean(self, message: str) -> str:
        return redact(message, secrets=(self._key,))


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


def _error_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return err.message


def _retry_after_s(headers: Any) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds), as the openai SDK itself reads them."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None
