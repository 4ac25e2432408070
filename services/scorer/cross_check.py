"""Cross-validation: ask a second model and measure agreement with the answer."""

from __future__ import annotations

import logging

from providers.base import CompletionRequest, Provider
from providers.catalogue import ModelSpec
from providers.errors import ProviderError
from providers.prompt import SYSTEM_PROMPT, build_prompt
from schemas.completion import CompletionProduced
from services.scorer.agreement import agreement

logger = logging.getLogger(__name__)


class ProviderCrossCheck:
    """Checks with `second` when the scorer is configured to, or the caller asked for it."""

    def __init__(
        self,
        *,
        providers: dict[str, Provider],
        second: ModelSpec,
        always: bool,
    ) -> None:
        self._providers = providers
        self._second = second
        self._always = always

    async def check(self, completion: CompletionProduced) -> tuple[float, float] | None:
        answer = completion.answer
        wanted = self._always or completion.query.options.cross_validate
        if answer is None or not wanted:
            return None
        second = self._second
        if (answer.provider, answer.model) == (second.provider, second.model):
            return None
        provider = self._providers.get(second.provider)
        if provider is None:
            return None
        request = CompletionRequest(
            prompt=build_prompt(completion.query),
            model=second.model_id,
            max_output_tokens=second.max_output_tokens,
            timeout_s=second.timeout_s,
            system=SYSTEM_PROMPT,
        )
        try:
            reply = await provider.complete(request)
        except ProviderError as err:
            logger.info(
                "cross-check with %s/%s failed: %s", second.provider, second.model_id, err.kind
            )
            return None
        cost = second.cost_usd(reply.input_tokens, reply.output_tokens)
        return agreement(answer.text, reply.text), cost
