"""The body of `POST /v1/chat/completions` and how it becomes an analysis.

Messages map onto the strategist's query: the **last user message is the `query`**; every
other message (system and developer instructions, earlier user turns, the assistant's
earlier answers, and anything after the last user message) becomes the `context`, as a
transcript in order, one `Role: text` block per message. So a conversation flows through
the pipeline like any analysis, and the classifier routes it by its latest question.

Parameters (see docs/openai_endpoint.md):
  used       `model` (`auto`: the learned router; a catalogued id: that model, exactly as
             named), `messages`, `stream`, `stream_options.include_usage`,
             `metadata.campaign_id` (admin keys: the campaign; default the key's own),
             `max_completion_tokens` / `max_tokens` -> `options.max_output_tokens` (clamped
             to the pipeline's [16, 8192]; a model's own limit still caps it)
  accepted   `temperature`, `top_p`, `presence_penalty`, `frequency_penalty`, `seed`, `stop`,
  and        `user`, other `metadata`, `store`, `logit_bias`, `response_format` of type `text`,
  ignored    `parallel_tool_calls`, `service_tier`, `reasoning_effort`, `n` = 1,
             `logprobs` = false, `tool_choice` = "none"; unknown fields are ignored too
             (clients send newer fields)
  refused    `n` > 1, `logprobs` = true, non-empty `tools` / `functions`, `tool` and
  (400)      `function` messages, non-text content parts, `response_format` other than
             text: the pipeline cannot honour them, and silently ignoring them would give
             a wrong answer presented as a right one
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from schemas.query import MAX_MODEL_ID_CHARS, QueryOptions, StreamMode
from strategist.request import AnalysisRequest

AUTO_MODEL = "auto"
"""`model` value that lets the learned router choose."""
MIN_OUTPUT_TOKENS = 16
MAX_OUTPUT_TOKENS = 8192
"""QueryOptions.max_output_tokens' bounds: a caller's value is clamped into them."""
ROLE_LABELS = {"system": "System", "developer": "Developer", "user": "User",
               "assistant": "Assistant"}


class ChatRequestError(Exception):
    """A body the endpoint cannot serve: 400 naming the OpenAI parameter (`param`)."""

    def __init__(self, message: str, *, param: str | None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class ContentPart(BaseModel):
    """One part of a message's content; only `text` parts are served."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    include_usage: bool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions body (the parameters this endpoint reads or checks)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1, max_length=MAX_MODEL_ID_CHARS)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    x_stream_mode: StreamMode | None = None
    """With `stream: true`: how the answer streams (docs/openai_endpoint.md, "Streaming")."""
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    logprobs: bool | None = None
    tools: list[JsonValue] | None = None
    functions: list[JsonValue] | None = None
    tool_choice: JsonValue = None
    response_format: ResponseFormat | None = None

    @property
    def streamed(self) -> bool:
        return bool(self.stream)

    @property
    def include_usage(self) -> bool:
        return self.streamed and self.stream_options is not None and (
            self.stream_options.include_usage
        )

    @property
    def campaign_id(self) -> str | None:
        """`metadata.campaign_id`: the campaign an admin key runs the query for (a
        strategist key may only name its own)."""
        return (self.metadata or {}).get("campaign_id")

    @property
    def named_model(self) -> str | None:
        """The model the caller named; None for `auto` (the router decides)."""
        return None if self.model == AUTO_MODEL else self.model


def param_path(location: tuple[int | str, ...]) -> str:
    """OpenAI's way of naming a parameter: `messages[0].content`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("str", "list[ContentPart]", "none") or "[" in str(part):
            continue  # pydantic names the union member that failed
        else:
            path += f".{part}" if path else str(part)
    return path


def parse_chat_request(body: Any) -> ChatCompletionRequest:
    """The validated body; raises ChatRequestError (400) for anything it cannot serve."""
    if not isinstance(body, dict):
        raise ChatRequestError("the request body must be a JSON object", param=None)
    try:
        chat = ChatCompletionRequest.model_validate(body)
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        param = param_path(first["loc"])
        if first["type"] == "missing":
            raise ChatRequestError(
                f"missing required parameter: '{param}'",
                param=param,
                code="missing_required_parameter",
            ) from err
        raise ChatRequestError(f"invalid '{param}': {first['msg']}", param=param) from err
    _refuse_unsupported(chat)
    return chat


def _unsupported(message: str, param: str) -> ChatRequestError:
    return ChatRequestError(message, param=param, code="unsupported_parameter")


def _refuse_unsupported(chat: ChatCompletionRequest) -> None:
    if chat.n is not None and chat.n > 1:
        raise _unsupported("only n=1 is supported: one analysis gives one answer", "n")
    if chat.logprobs:
        raise _unsupported("logprobs are not returned by this endpoint", "logprobs")
    if chat.tools or chat.functions:
        raise _unsupported(
            "tool and function calling are not supported", "tools" if chat.tools else "functions"
        )
    if chat.tool_choice not in (None, "none", "auto"):
        raise _unsupported("tool_choice: no tools can be called here", "tool_choice")
    if chat.response_format is not None and chat.response_format.type != "text":
        raise _unsupported("only response_format type 'text' is supported", "response_format")
    for index, message in enumerate(chat.messages):
        if message.role in ("tool", "function"):
            raise _unsupported(
                f"{message.role} messages are not supported", f"messages[{index}].role"
            )


def message_text(message: ChatMessage, index: int) -> str:
    """The text of a message: its string, or its text parts joined; raises for other parts."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for part_index, part in enumerate(message.content):
        if part.type != "text" or part.text is None:
            raise _unsupported(
                f"only text content parts are supported (got {part.type!r})",
                f"messages[{index}].content[{part_index}].type",
            )
        texts.append(part.text)
    return "\n".join(texts)


def _transcript(chat: ChatCompletionRequest, skip: int) -> str | None:
    blocks = []
    for index, message in enumerate(chat.messages):
        if index == skip:
            continue
        text = message_text(message, index)
        if not text.strip():
            continue
        label = ROLE_LABELS.get(message.role, message.role)
        named = f" ({message.name})" if message.name else ""
        blocks.append(f"{label}{named}: {text}")
    return "\n\n".join(blocks) or None


def _max_output_tokens(chat: ChatCompletionRequest) -> int | None:
    asked = chat.max_completion_tokens or chat.max_tokens
    if asked is None:
        return None
    return min(max(asked, MIN_OUTPUT_TOKENS), MAX_OUTPUT_TOKENS)


def to_analysis_request(
    chat: ChatCompletionRequest, campaign_id: str | None, *, stream_mode: StreamMode = "buffered"
) -> AnalysisRequest:
    """The analysis this chat asks for (see the module docstring), run in `stream_mode`;
    raises ChatRequestError when there is no user message or the text exceeds the
    pipeline's limits."""
    last_user = max(
        (i for i, message in enumerate(chat.messages) if message.role == "user"), default=None
    )
    if last_user is None:
        raise ChatRequestError("messages must contain at least one user message",
                               param="messages")
    question = message_text(chat.messages[last_user], last_user)
    if not question.strip():
        raise ChatRequestError(
            "the last user message must not be empty", param=f"messages[{last_user}].content"
        )
    options = QueryOptions(
        model=chat.named_model,
        max_output_tokens=_max_output_tokens(chat),
        stream_mode=stream_mode,
    )
    try:
        return AnalysisRequest(
            query=question,
            campaign_id=campaign_id,
            context=_transcript(chat, skip=last_user),
            options=options,
        )
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        param = f"messages[{last_user}].content" if field == "query" else "messages"
        what = "the last user message" if field == "query" else "the other messages together"
        raise ChatRequestError(
            f"{what}: {first['msg']}", param=param, code="string_above_max_length"
            if first["type"] in ("string_too_long", "value_error") else "invalid_value"
        ) from err
