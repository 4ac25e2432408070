"""What the emulated APIs share inside one app: the fault board, the simulated grades
(emulator/grading.py) and the latency scale."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from emulator.faults import FaultBoard
from emulator.grading import GradingBoard

EXTENSION_KEY = "emulator"
INVALID_KEY_MARKER = "invalid"
"""An API key containing this is refused the way the real service refuses a bad key;
any other non-empty key is accepted."""


@dataclass
class EmulatorState:
    latency_scale: float
    board: FaultBoard = field(default_factory=FaultBoard)
    grading: GradingBoard = field(default_factory=GradingBoard)


def current_state() -> EmulatorState:
    state: EmulatorState = current_app.extensions[EXTENSION_KEY]
    return state
