"""Open-loop load through the async API, and the answers it gets back.

Queries are sent at a fixed arrival rate whatever the server does (a slow server
cannot slow the load down and hide its own latency); each accepted analysis is
then polled until it has a final status. One asyncio loop on its own thread, so
the faults can be injected from the main thread meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx

from chaos.streams import ChatCaller, StreamCaller, chat_once, stream_once

API = "/api/v1/strategist"
QUERIES = [
    "latest polls in Arizona this week",
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    "What are the main arguments for expanding early voting?",
    "Who is leading the Pennsylvania Senate race right now?",
    "Summarise the main themes voters raise about housing costs",
]
POLL_INTERVAL_S = 0.25
REQUEST_TIMEOUT_S = 10.0
ANSWER_GRACE_S = 90.0
SUBMIT_RETRIES = 20
"""A submit that fails (app worker killed, Redis restarting) is retried, as a client would."""


@dataclass
class Analysis:
    analysis_id: str
    sent_at: float
    answered_at: float | None = None
    status: str | None = None
    body: dict | None = None
    query: str = ""


@dataclass
class LoadResult:
    analyses: dict[str, Analysis] = field(default_factory=dict)
    rejected: int = 0
    """Submits that never got an analysis id (counted as lost: the caller got no answer)."""
    errors: dict[str, int] = field(default_factory=dict)
    streams: list[StreamCaller] = field(default_factory=list)
    """The event-stream callers (chaos/streams.py); their analyses are in `analyses` too."""
    chats: list[ChatCaller] = field(default_factory=list)
    """The `/v1` stream callers (not in `analyses`: a broken stream never names its id)."""

    def note(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class OpenLoopLoad:
    """Send `rate` queries a second until `stop_sending`, then wait for the answers."""

    def __init__(
        self,
        base_url: str,
        rate: float,
        *,
        campaign: str = "chaos",
        headers: dict[str, str] | None = None,
        stream_every: int = 0,
    ) -> None:
        """`headers`: sent with every request (the API key); every `stream_every`-th query
        (0: none) is sent by a caller reading it live instead of polling: in turn the
        strategist event stream and the `/v1` stream."""
        self._stream_every = stream_every
        self._base_url = base_url
        self._headers = dict(headers or {})
        self._rate = rate
        self._campaign = campaign
        self._sending = threading.Event()
        self._sending.set()
        self.result = LoadResult()
        self._thread: threading.Thread | None = None
        self._pollers: set[asyncio.Task[None]] = set()
        self.answer_grace_s = ANSWER_GRACE_S
        self.deadline = float("inf")
        """Polling for answers ends here (set when sending stops)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def stop_sending(self) -> None:
        self._sending.clear()

    def wait(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(
            base_url=self._base_url,
            timeout=REQUEST_TIMEOUT_S,
            limits=limits,
            headers=self._headers,
        ) as client:
            interval = 1.0 / self._rate
            next_at = time.monotonic()
            for i in itertools.count():
                if not self._sending.is_set():
                    break
                task = asyncio.create_task(self._one(client, i))
                self._pollers.add(task)
                task.add_done_callback(self._pollers.discard)
                next_at += interval
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
            self.deadline = time.monotonic() + self.answer_grace_s
            if self._pollers:
                await asyncio.wait(set(self._pollers))

    async def _one(self, client: httpx.AsyncClient, i: int) -> None:
        body: dict[str, object] = {
            "query": QUERIES[i % len(QUERIES)],
            "campaign_id": self._campaign,
        }
        sent_at = time.monotonic()
        if self._stream_every and i % self._stream_every == 0:
            if (i // self._stream_every) % 2 == 0:
                await self._streamed(client, body, sent_at)
            else:
                caller = ChatCaller(str(body["query"]), sent_at)
                self.result.chats.append(caller)
                await chat_once(client, caller, str(body["query"]))
            return
        analysis_id = None
        for attempt in range(SUBMIT_RETRIES):
            try:
                response = await client.post(f"{API}/analyses", json=body)
                if response.status_code == 202:
                    analysis_id = response.json()["analysis_id"]
                    break
                self.result.note(f"submit {response.status_code}")
            except httpx.HTTPError as err:
                self.result.note(f"submit {type(err).__name__}")
            await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        if analysis_id is None:
            self.result.rejected += 1
            return
        analysis = Analysis(analysis_id, sent_at, query=str(body["query"]))
        self.result.analyses[analysis_id] = analysis
        while time.monotonic() < self.deadline:
            try:
                response = await client.get(f"{API}/analyses/{analysis_id}")
            except httpx.HTTPError as err:
                self.result.note(f"poll {type(err).__name__}")
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            if response.status_code == 200:
                analysis.answered_at = time.monotonic()
                analysis.body = response.json()
                analysis.status = analysis.body["status"]
                return
            if response.status_code != 202:
                self.result.note(f"poll {response.status_code}")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def _streamed(
        self, client: httpx.AsyncClient, body: dict[str, object], sent_at: float
    ) -> None:
        """A caller reading the answer live; its analysis counts like a polled one."""
        caller = StreamCaller(str(body["query"]), sent_at)
        self.result.streams.append(caller)
        await stream_once(client, caller, {**body, "options": {"stream_mode": "live"}})
        if caller.analysis_id is None:
            self.result.rejected += 1
            return
        final = caller.read.events[-1].data if caller.read.final else None
        self.result.analyses[caller.analysis_id] = Analysis(
            caller.analysis_id,
            sent_at,
            answered_at=caller.ended_at,
            status=final.get("status") if isinstance(final, dict) else None,
            body=final if isinstance(final, dict) else None,
            query=caller.query,
        )
