"""The app's clients (Kafka, Redis, providers), built lazily once per process.

`Runtime` is the Flask extension: `init_app` registers it in
`app.extensions["strategist"]`. Nothing connects in `create_app`: the bundle
of clients is built on first use in each process, and rebuilt if the process
id changed (gunicorn's fork, `--preload` or not), because threads and sockets
do not survive a fork.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient
from flask import Flask, current_app

from providers.catalogue import Catalogue
from providers.gemini import GeminiProvider
from schemas.topics import AUDIT_RETENTION_MS
from services.common.admin import ensure_topics
from services.common.kafka_config import admin_config
from services.common.kafka_security import KafkaSecurity
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.common.spend import SpendLedger
from strategist.analysis.archive import ResponseArchive
from strategist.analysis.direct import DirectAnalyzer
from strategist.analysis.feedback import KafkaFeedbackDesk
from strategist.analysis.loop import LoopRunner
from strategist.analysis.pipeline import AnswerRecorder, QueryPublisher
from strategist.analysis.store import DEFAULT_CONCURRENCY, ResultStore
from strategist.analysis.waiter import ResponseWaiter
from strategist.service import AnalysisService
from strategist.settings import StrategistSettings
from strategist.streams.hub import DeltaHub

logger = logging.getLogger(__name__)

EXTENSION = "strategist"
CLOSE_TIMEOUT_S = 2.0


class KafkaProbe:
    """Readiness check: a metadata request to the broker within a deadline."""

    def __init__(self, *, bootstrap_servers: str, security: KafkaSecurity) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()

    def check(self, timeout_s: float) -> None:
        """Returns when the broker answered; raises (KafkaException) otherwise."""
        with self._lock:
            if self._admin is None:
                self._admin = AdminClient(admin_config(self._bootstrap, security=self._security))
            admin = self._admin
        admin.list_topics(timeout=timeout_s)


@dataclass
class Components:
    """Everything one process uses to serve requests."""

    settings: StrategistSettings
    service: AnalysisService
    store: ResultStore
    kafka: KafkaProbe
    catalogue: Catalogue
    waiter: ResponseWaiter
    publisher: QueryPublisher
    loop: LoopRunner
    background: ThreadPoolExecutor
    archive: ResponseArchive | None = None
    deltas: DeltaHub | None = None
    feedback: KafkaFeedbackDesk | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def emulated(self) -> dict[str, bool]:
        """Per provider: True when its calls go to the emulator (no key set)."""
        providers = self.settings.providers
        emulated = {
            "gemini": providers.gemini_emulated,
            "perplexity": providers.perplexity_emulated,
            "local": False,
        }
        for spec in self.catalogue.providers:  # declared ones: emulated without their key
            emulated[spec.name] = providers.secret_from_env(spec.api_key_env) is None
        return emulated

    def close(self) -> None:
        for closer in self.closers:
            try:
                closer()
            except Exception:  # closing is best effort; the process is going away
                logger.debug("closer failed", exc_info=True)
        self.waiter.stop()
        if self.deltas is not None:
            self.deltas.stop()
        self.background.shutdown(wait=False, cancel_futures=True)
        self.publisher.close()
        self.loop.stop()


def build_components(settings: StrategistSettings) -> Components:
    """Wire the clients; none of them connects before its first call."""
    infra = settings.infra
    security = infra.kafka_security
    topics = infra.topics
    catalogue = Catalogue.load(settings.providers.catalogue_path)
    store = ResultStore(
        url=infra.redis_url, keys=RedisKeys(infra.topic_namespace), ttl_s=infra.result_ttl_s
    )
    producer = QueryPublisher.producer_for(
        infra.kafka_bootstrap_servers, settings.kafka_delivery_timeout_s, security=security
    )
    publisher = QueryPublisher(
        producer=producer,
        topic=topics.queries,
        delivery_timeout_s=settings.kafka_delivery_timeout_s,
    )
    waiter = ResponseWaiter(
        store=store,
        consumer_config=ResponseWaiter.config(infra.kafka_bootstrap_servers, security=security),
        topic=topics.responses,
        prepare=lambda: ensure_topics(infra),
    )
    loop = LoopRunner()
    books = async_redis(infra.redis_url, concurrency=DEFAULT_CONCURRENCY)  # used on `loop`
    direct = DirectAnalyzer(
        provider=GeminiProvider(settings=settings.providers),
        catalogue=catalogue,
        runner=loop,
        timeout_s=settings.direct_timeout_s,
        ledger=SpendLedger(redis=books, namespace=infra.topic_namespace),
    )
    background = ThreadPoolExecutor(
        settings.background_workers, thread_name_prefix="strategist-direct"
    )
    archive = ResponseArchive(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        security=security,
        topic=topics.responses,
        queries_topic=topics.queries,
        retention_ms=AUDIT_RETENTION_MS,
        window_s=settings.archive_window_s,
        budget_s=settings.archive_budget_s,
    )
    deltas = DeltaHub(
        consumer_config=ResponseWaiter.config(infra.kafka_bootstrap_servers, security=security),
        topic=topics.answer_deltas,
        prepare=lambda: ensure_topics(infra),
    )
    service = AnalysisService(
        routing=settings.routing,
        publisher=publisher,
        recorder=AnswerRecorder(producer=producer, topic=topics.responses),
        waiter=waiter,
        store=store,
        archive=archive,
        direct=direct,
        background=background,
        sync_timeout_s=settings.sync_timeout_s,
        pipeline_wait_s=settings.kafka_delivery_timeout_s,
        sync_wait_limit=settings.sync_wait_limit,
    )
    return Components(
        settings=settings,
        service=service,
        store=store,
        kafka=KafkaProbe(bootstrap_servers=infra.kafka_bootstrap_servers, security=security),
        catalogue=catalogue,
        waiter=waiter,
        publisher=publisher,
        loop=loop,
        background=background,
        archive=archive,
        deltas=deltas,
        feedback=KafkaFeedbackDesk(
            producer=producer,
            topic=topics.feedback,
            redis_client=lambda: store.client,
            keys=RedisKeys(infra.topic_namespace),
            ttl_s=infra.result_ttl_s,
            delivery_timeout_s=settings.kafka_delivery_timeout_s,
        ),
        closers=[lambda: loop.run(books.aclose(), CLOSE_TIMEOUT_S)],
    )


class Runtime:
    """Flask extension holding this process's `Components`, built on first use."""

    def __init__(
        self,
        settings: StrategistSettings,
        *,
        build: Callable[[StrategistSettings], Components] = build_components,
    ) -> None:
        self.settings = settings
        self.build = build
        self._components: Components | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self

    @property
    def components(self) -> Components:
        with self._lock:
            if self._components is None or self._pid != os.getpid():
                self._components = self.build(self.settings)
                self._pid = os.getpid()
                logger.info("clients ready in process %d", self._pid)
            return self._components

    @property
    def started(self) -> bool:
        """True once this process built its clients (tests assert validation never does)."""
        return self._components is not None and self._pid == os.getpid()

    def close(self) -> None:
        with self._lock:
            components, self._components = self._components, None
        if components is not None and self._pid == os.getpid():
            components.close()


def current_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions[EXTENSION]
    return runtime
