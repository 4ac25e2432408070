"""How fast one classifier instance decides (`make bench`): the learned router loaded.

Runs the classifier's own handler (`classify`: rule features, the tier router, the
route) over the dev split's questions in this process, one thread, as one classifier
instance does, and prints the decision time p50/p99 and the throughput of one
instance, plus the same for the handler with the rules alone (today's baseline in
the same run). No broker: this is the classifier's CPU cost, not the pipeline's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench.stats import percentile
from schemas.query import QueryRequested
from services.classifier.dataset import load_split
from services.classifier.features import extract_features, rule_tier
from services.classifier.handler import classify, shipped_router

WARM_UP = 20


def _measure(
    decide: Callable[[QueryRequested], object], queries: list[QueryRequested], rounds: int
) -> tuple[list[float], float]:
    """Per-decision wall times (ms) and decisions per second over `rounds` passes."""
    for query in queries[:WARM_UP]:
        decide(query)
    times = []
    started = time.perf_counter()
    for _ in range(rounds):
        for query in queries:
            t0 = time.perf_counter()
            decide(query)
            times.append((time.perf_counter() - t0) * 1000)
    return times, len(times) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev split")
    args = parser.parse_args(argv)
    queries = [QueryRequested(query_id=e.id, query=e.query) for e in load_split("dev")]
    router = shipped_router()
    learned, learned_rate = _measure(lambda q: classify(q, router), queries, args.rounds)
    rules, rules_rate = _measure(
        lambda q: rule_tier(extract_features(q.query)), queries, args.rounds
    )
    for name, times, rate in (
        (f"learned router ({router.version})", learned, learned_rate),
        ("rule features only", rules, rules_rate),
    ):
        print(
            f"[bench] classifier {name}: decision p50={percentile(times, 50):.2f} ms "
            f"p99={percentile(times, 99):.2f} ms, one instance {rate:.0f} queries/s "
            f"(n={len(times)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
