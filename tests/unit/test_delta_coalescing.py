"""Text pieces merged within a few milliseconds, never delaying one that comes alone
(services/dispatcher/delta_coalescing.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.dispatcher.delta_coalescing import DeltaCoalescer

WINDOW_S = 0.05


def _run(script: list[tuple[float, str]], window_s: float) -> list[tuple[str, float]]:
    """Feed (pause before, piece) in turn, then flush: (text sent, seconds after the
    start it was sent) of each delta."""

    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent: list[tuple[str, float]] = []

        def send(text: str, _arrived: datetime) -> None:
            sent.append((text, loop.time() - began))

        coalescer = DeltaCoalescer(send, window_s=window_s)
        for pause, piece in script:
            await asyncio.sleep(pause)
            coalescer.add(piece)
        await asyncio.sleep(window_s * 3)
        coalescer.flush()
        return sent

    return asyncio.run(main())


def test_the_first_piece_goes_at_once_and_a_burst_after_it_becomes_one_delta() -> None:
    sent = _run([(0, "The "), (0, "plan "), (0, "has "), (0, "three phases.")], WINDOW_S)
    assert [text for text, _ in sent] == ["The ", "plan has three phases."]
    assert sent[1][1] >= WINDOW_S * 0.9  # the burst waited for the window to end


def test_pieces_further_apart_than_the_window_each_go_at_once() -> None:
    sent = _run([(0, "a"), (WINDOW_S * 2, "b"), (WINDOW_S * 2, "c")], WINDOW_S)
    assert [text for text, _ in sent] == ["a", "b", "c"]  # none was held for another


def test_a_zero_window_sends_every_piece() -> None:
    assert [t for t, _ in _run([(0, "a"), (0, "b"), (0, "c")], 0.0)] == ["a", "b", "c"]


def test_flush_sends_what_is_held_at_once_and_the_text_adds_up() -> None:
    async def main() -> list[str]:
        sent: list[str] = []
        coalescer = DeltaCoalescer(lambda text, _at: sent.append(text), window_s=10.0)
        for piece in ("one ", "two ", "three"):
            coalescer.add(piece)
        assert sent == ["one "]  # the first went at once (no wait); the rest is held
        coalescer.flush()
        coalescer.flush()  # nothing held: nothing sent
        return sent

    assert asyncio.run(main()) == ["one ", "two three"]


def test_a_merged_delta_carries_the_arrival_time_of_its_first_piece() -> None:
    async def main() -> list[datetime]:
        arrivals: list[datetime] = []
        coalescer = DeltaCoalescer(lambda _text, at: arrivals.append(at), window_s=WINDOW_S)
        coalescer.add("a")
        coalescer.add("b")
        await asyncio.sleep(WINDOW_S / 2)
        coalescer.add("c")
        await asyncio.sleep(WINDOW_S)
        return arrivals

    first, merged = asyncio.run(main())
    assert (merged - first).total_seconds() < WINDOW_S / 4  # "b" arrived with "a", not "c"
