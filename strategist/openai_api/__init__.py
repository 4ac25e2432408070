"""The OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`) on the app's port.

Laid out like openai-python's `resources/chat/completions/`: `routes` is the blueprint,
`request` the request body and its mapping onto an analysis, `format` the completion,
its chunks and `x_routing`, `errors` OpenAI's error shape.
"""
