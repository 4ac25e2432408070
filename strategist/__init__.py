"""The strategist API: a Flask app in front of the routing pipeline.

`create_app()` is the factory gunicorn runs; `service.py` holds the
orchestration (AnalysisService), `router.py` the API blueprint, `legacy.py` the
direct Gemini path, `waiter.py` the per-process responses consumer.
"""

from strategist.app import create_app

__all__ = ["create_app"]
