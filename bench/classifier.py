"""How fast one classifier instance decides (`make bench`): the learned router loaded.

Runs the classifier's own handler (`classify`: rule features, the tier router, the
route) over the held-out split's questions (never trained on: the cascade skips the
sentence embedding less often on new questions than on training ones) in this process,
one thread, as one classifier instance does. Prints the decision time p50/p99, the
throughput measured, and the throughput one instance would reach with a core of its own
(decisions per CPU second: on a shared machine the wall-clock rate mostly measures the
neighbours), plus the same for the rules alone (the baseline, same run). No broker: this
is the classifier's CPU cost, not the pipeline's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench.stats import nearest_rank_percentile
from schemas.query import QueryRequested
from services.classifier.dataset import load_split
from services.classifier.features import extract_features, rule_tier
from services.classifier.handler import classify, shipped_router

WARM_UP = 20


def _measure(
    decide: Callable[[QueryRequested], object], queries: list[QueryRequested], rounds: int
) -> tuple[list[float], float, float]:
    """Per-decision wall times (ms), decisions per wall second and per CPU second."""
    for query in queries[:WARM_UP]:
        decide(query)
    times = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for query in queries:
            t0 = time.perf_counter()
            decide(query)
            times.append((time.perf_counter() - t0) * 1000)
    cpu_s = max(time.process_time() - cpu_started, 1e-9)
    return times, len(times) / (time.perf_counter() - started), len(times) / cpu_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the held-out split")
    args = parser.parse_args(argv)
    queries = [QueryRequested(query_id=e.id, query=e.query) for e in load_split("holdout")]
    router = shipped_router()
    learned = _measure(lambda q: classify(q, router), queries, args.rounds)
    rules = _measure(lambda q: rule_tier(extract_features(q.query)), queries, args.rounds)
    for name, (times, rate, cpu_rate) in (
        (f"learned router ({router.version})", learned),
        ("rule features only", rules),
    ):
        print(
            f"[bench] classifier {name}: decision p50={nearest_rank_percentile(times, 50):.2f} ms "
            f"p99={nearest_rank_percentile(times, 99):.2f} ms, one instance {rate:.0f} queries/s "
            f"measured, {cpu_rate:.0f} queries/s per CPU second (n={len(times)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
