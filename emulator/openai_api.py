"""A plain OpenAI-compatible API under `/openai/v1`: chat completions and the models list.

What a deployment's `openai_compatible` catalogue providers talk to when their key is
not set (and what tests point the generic client at). Any model name is served (with
a generic profile, unless it is one of the emulated OpenAI-style models), so a
catalogue may declare whatever ids it likes. Fault modes are the `openai` provider's.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from emulator.chat import OPENAI, chat_completions, fault_renderer
from emulator.modes import apply_mode
from emulator.profiles import PROFILES
from emulator.state import current_state

URL_PREFIX = "/openai/v1"

bp = Blueprint("openai", __name__, url_prefix=URL_PREFIX)


@bp.post("/chat/completions")
def openai_chat_completions() -> Response:
    return chat_completions(OPENAI)


@bp.get("/models")
def list_models() -> Response:
    """`GET /models`: the probe a health monitor may use (free, like OpenAI's own)."""
    state = current_state()
    fault = apply_mode(state.board, OPENAI.provider, "probe", fault_renderer(OPENAI))
    if fault is not None:
        return fault
    names = [p.model for p in PROFILES.values() if p.provider == OPENAI.provider]
    return jsonify(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "emulator"}
                for name in names
            ],
        }
    )
