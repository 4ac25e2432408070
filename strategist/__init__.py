"""The strategist API: a Flask app in front of the routing pipeline.

The doors are at the top: `create_app()` (`app.py`) is the factory gunicorn runs,
`settings.py` and `runtime.py` build and hold the process's clients, `service.py`
holds the orchestration (AnalysisService), `router.py` the API blueprint,
`request.py` and `errors.py` the bodies in and out, `openapi.py` the OpenAPI
document, `probes.py` and `metrics.py` the health and Prometheus endpoints.

Three wings hold the rest: `analysis/` the life of one analysis (the pipeline, the
waiter, the store, the archive, the direct Gemini path), `auth/` who may call (keys,
the gate, rate limits, the `keys` CLI), and `openai_api/` the OpenAI-compatible `/v1`
API.
"""

from strategist.app import create_app

__all__ = ["create_app"]
