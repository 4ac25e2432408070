"""`make chaos`: the whole stack under steady load while its parts are killed and restarted.

`python -m chaos --help`. The run sends queries at a fixed rate through the async
API, kills each service in turn with SIGKILL (and restarts it), kills one app
worker, restarts the Kafka broker and Redis, then counts what came back: sent,
answered, lost, answered twice, provider calls paid twice, answers forgotten after
the Redis restart, and the worst time to answer.
"""
