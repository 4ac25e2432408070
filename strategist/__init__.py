"""The strategist API: a Flask app in front of the routing pipeline.

`create_app()` is the factory gunicorn runs; `service.py` holds the
orchestration (AnalysisService), `router.py` the API blueprint, `openapi.py` the
OpenAPI document, `legacy.py` the direct Gemini path, `waiter.py` the one place
an answer is awaited (responses follower + Redis), `archive.py` the read-back
from the responses topic when Redis lost an answer.
"""

from strategist.app import create_app

__all__ = ["create_app"]
