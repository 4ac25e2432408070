"""The Flask app behind an asyncio HTTP server, for many open streams and slow clients.

`gunicorn -k asgi 'strategist.asgi:create_asgi_app()'` (gunicorn's own ASGI worker):
the server reads requests on an event loop, so a socket that trickles its headers costs a
coroutine and a file descriptor, never a thread; only a complete request is handed to a
thread, where the unchanged Flask app (`strategist:create_app()`, its routes, blueprints
and CLI) serves it. An open event stream holds its thread while it waits on its
subscription (a blocked thread, no CPU), so `STRATEGIST_SERVER_THREADS` (default 2,000
per process) bounds the streams and requests in progress; the Kafka followers run on
their own threads, never on the event loop (confluent-kafka blocks in C).

Why this model rather than gevent workers or a separate stream gateway: gevent would
block every greenlet while librdkafka polls in C (the app's followers), and a gateway is
a second service to deploy; see docs/streaming.md for the figures of `python -m bench.streams`.
"""

from __future__ import annotations

import warnings
from typing import Any

import anyio.to_thread

from strategist.app import create_app
from strategist.settings import StrategistSettings

with warnings.catch_warnings():  # deprecated for a2wsgi, which adds a dependency for nothing
    warnings.simplefilter("ignore")
    from starlette.middleware.wsgi import WSGIMiddleware

Scope = dict[str, Any]


def create_asgi_app(settings: StrategistSettings | None = None) -> Any:
    """The Flask app as an ASGI application; connects to nothing (as `create_app`)."""
    settings = settings or StrategistSettings()
    flask_app = create_app(settings)
    inner = WSGIMiddleware(flask_app)
    threads = settings.server_threads
    sized = False

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal sized
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if not sized:  # the limiter belongs to the running loop: size it there
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
            sized = True
        await inner(scope, receive, send)

    app.flask_app = flask_app  # type: ignore[attr-defined]
    return app


async def _lifespan(receive: Any, send: Any) -> None:
    """Nothing to start: clients connect on first use in each process."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
