"""`python -m services.recorder`: write the decision records from the audit topics."""

from __future__ import annotations

import asyncio

from services.common.database import make_engine, upgrade
from services.common.startup import ServiceRun, run_service
from services.recorder.settings import RecorderSettings
from services.recorder.worker import SERVICE, build_workers, run_workers
from services.recorder.writer import RecordWriter


def main() -> None:
    settings = RecorderSettings()  # type: ignore[call-arg]  # DATABASE_URL from the environment

    async def run(service: ServiceRun) -> None:
        engine = make_engine(settings.database_url.get_secret_value(),
                             pool_size=settings.pool_size)
        service.on_exit(engine.dispose)
        await asyncio.to_thread(upgrade, engine)
        workers = build_workers(settings, producer=service.producer,
                                writer=RecordWriter(engine=engine))
        await run_workers(workers, service.stop)

    run_service(SERVICE, settings.infra, run)


if __name__ == "__main__":
    main()
