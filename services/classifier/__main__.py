"""`python -m services.classifier`: run one classifier instance."""

from __future__ import annotations

import asyncio

from services.classifier.settings import ClassifierSettings
from services.classifier.worker import SERVICE, build_worker
from services.common.runner import make_producer, run_service


def main() -> None:
    settings = ClassifierSettings()

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(settings.infra, SERVICE)
        try:
            await build_worker(settings, producer=producer).run(stop)
        finally:
            producer.close()

    run_service(SERVICE, settings.infra, run)


if __name__ == "__main__":
    main()
