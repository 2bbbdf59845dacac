# One image for the bot and the worker; the command picks the process.
FROM python:3.11.10-slim-bookworm
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/app/.venv/bin:$PATH"
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev
USER nobody
# Runs as production unless VCK_ENVIRONMENT says otherwise: without real secrets it
# refuses to start (core/config.py).
CMD ["vck", "serve", "--host", "0.0.0.0"]
