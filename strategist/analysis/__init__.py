"""The life of one analysis: what `AnalysisService` (`strategist/service.py`) drives.

`ids` makes and reads analysis ids, `rollout` picks the path, `pipeline` publishes the
query (and records direct answers), `store` keeps pending marks and results in Redis,
`waiter` awaits the scored response, `archive` reads it back from the responses topic
when Redis lost it, `direct` is the direct Gemini path (no Kafka), `feedback` takes
grades, and `loop` runs the asyncio pieces from Flask's threads.

Nothing here knows HTTP: the blueprints at the top of `strategist/` do.
"""
