"""Each dispatcher's circuit breakers, published to Redis for whoever shows them.

A dispatcher keeps a circuit per model in its own memory (services/dispatcher/circuits.py:
closed, open, half-open); nothing outside the process could see them. Every
`PUBLISH_EVERY_S` each dispatcher writes its whole board, as one JSON value under its
instance id, into one Redis hash (`RedisKeys.circuits()`): the write is off the attempt
path (no Redis round trip per call), it carries the time-driven open -> half-open change,
and it is the instance's heartbeat. A reader (the console's providers page) drops an
instance not heard from for `STALE_AFTER_S` (stopped or dead) and shows per model the
worst state among the live instances, with how many of them hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

CircuitState = Literal["closed", "open", "half_open"]
SEVERITY: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
PUBLISH_EVERY_S = 1.0
STALE_AFTER_S = 5.0
"""An instance silent this long is gone: its circuits are not shown."""
PRUNE_AFTER_S = 60.0
"""An instance silent this long is removed from the hash by the next live one."""
PRUNE_EVERY_TICKS = 30
HASH_TTL_S = 60
"""The hash expires when every dispatcher is gone (each write renews it)."""

Snapshot = Callable[[], Mapping[str, tuple[str, int]]]
"""`provider/model` -> (state, consecutive failures) of every circuit the board holds."""


def encode(board: Mapping[str, tuple[str, int]], *, now: float) -> str:
    return json.dumps({"seen_at": now, "circuits": {
        key: {"state": state, "failures": failures} for key, (state, failures) in board.items()
    }}, separators=(",", ":"))  # fmt: skip


async def publish_circuits(
    redis: AsyncRedis, keys: RedisKeys, instance: str, snapshot: Snapshot, stop: asyncio.Event,
    *, every_s: float = PUBLISH_EVERY_S, clock: Callable[[], float] = time.time,
) -> None:  # fmt: skip
    """Write this instance's board every `every_s` until `stop`; then remove it. A Redis
    failure is logged and retried at the next tick (circuits work without Redis)."""
    name = keys.circuits()
    ticks = 0
    try:
        while not stop.is_set():
            try:
                await redis.hset(name, instance, encode(snapshot(), now=clock()))
                await redis.expire(name, HASH_TTL_S)
                if ticks % PRUNE_EVERY_TICKS == 0:
                    await _prune(redis, name, now=clock())
            except RedisError as err:
                logger.warning("circuit states not published: %s", err)
            ticks += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        with contextlib.suppress(RedisError):
            await redis.hdel(name, instance)


async def _prune(redis: AsyncRedis, name: str, *, now: float) -> None:
    """Remove the entries of instances gone without a clean stop (killed), so the hash
    does not grow with every restart."""
    gone = [field for field, raw in (await redis.hgetall(name)).items()
            if not _fresh(raw, now=now, within_s=PRUNE_AFTER_S)]  # fmt: skip
    if gone:
        await redis.hdel(name, *gone)


def _fresh(raw: bytes | str, *, now: float, within_s: float) -> bool:
    try:
        return now - float(json.loads(raw)["seen_at"]) <= within_s
    except (ValueError, KeyError, TypeError):
        return False


@dataclass(frozen=True)
class ModelCircuit:
    """One model's circuit across the live dispatchers: the worst state and who holds it."""

    state: CircuitState
    holding: int
    """Dispatchers whose circuit is in `state`."""
    dispatchers: int
    """Live dispatchers reporting."""
    failures: int
    """The most consecutive failures any of them counts."""


@dataclass(frozen=True)
class CircuitView:
    dispatchers: int
    models: dict[str, ModelCircuit]

    def of(self, provider: str, model: str) -> ModelCircuit | None:
        """None when no live dispatcher reports (state unknown); closed when none holds it."""
        if self.dispatchers == 0:
            return None
        found = self.models.get(f"{provider}/{model}")
        return found or ModelCircuit("closed", self.dispatchers, self.dispatchers, 0)


def combine(values: Mapping[str, str], *, now: float) -> CircuitView:
    """The live instances' boards (raw hash values) as one view per model."""
    boards: list[dict[str, Any]] = []
    for instance, raw in values.items():
        if not _fresh(raw, now=now, within_s=STALE_AFTER_S):
            continue
        try:
            boards.append(dict(json.loads(raw)["circuits"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("unreadable circuit states of instance %s ignored", instance)
    by_model: dict[str, list[tuple[str, int]]] = {}
    for circuits in boards:
        for key, circuit in circuits.items():
            state = circuit.get("state")
            if state in SEVERITY:
                by_model.setdefault(key, []).append((state, int(circuit.get("failures", 0))))
    models = {}
    for key, held in by_model.items():
        worst = max((s for s, _f in held), key=SEVERITY.__getitem__)
        holding = sum(1 for s, _f in held if s == worst)
        if worst == "closed":
            holding += len(boards) - len(held)  # the ones without an entry are closed too
        models[key] = ModelCircuit(worst, holding, len(boards),  # type: ignore[arg-type]
                                   max(f for _s, f in held))
    return CircuitView(dispatchers=len(boards), models=models)


def read_circuits(redis: Redis, keys: RedisKeys, *, now: float | None = None) -> CircuitView:
    """Every live dispatcher's circuits. Raises RedisError when Redis is unreachable."""
    raw = redis.hgetall(keys.circuits())
    values = {_text(k): _text(v) for k, v in raw.items()}  # type: ignore[union-attr]
    return combine(values, now=time.time() if now is None else now)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
