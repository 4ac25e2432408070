"""Who may call the API: keys, the gate that checks them, and rate limits.

`gate` is the Flask extension that checks every `/api/v1/` and `/v1/` request, `keys`
the API-key store (PostgreSQL, hashes only), `keyring` its per-process cache,
`ratelimit` the per-key limits (Redis), `cli` the `flask --app strategist keys ...`
commands, and `tool_keys` the keys this repository's own tools (demo, evaluation) use
against a running stack.
"""
