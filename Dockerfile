# chaoslab's own image: the target service, the classifier, the alert webhook
# receiver and Locust (compose/compose.yml runs each with its own command).
#
#   docker build -t chaoslab/lab:0.1.0 .
#
# Dependencies come from uv.lock only (`uv sync --frozen --no-dev`), with the
# image's own CPython (no Python downloads, as [tool.uv] python-preference).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The uv release the lockfile was written with (PyPI).
RUN pip install --no-cache-dir "uv==0.13.8"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (a layer that survives source edits), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY target_app ./target_app
COPY loadtests ./loadtests
COPY scenarios ./scenarios
COPY stack ./stack
COPY assertions ./assertions
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 chaoslab \
    && useradd --system --uid 10001 --gid chaoslab --home-dir /app --shell /usr/sbin/nologin chaoslab \
    && mkdir -p /logs /data \
    && chown chaoslab:chaoslab /logs /data
WORKDIR /app
COPY --from=build --chown=chaoslab:chaoslab /app/.venv /app/.venv
# Locust's -f takes these files by path (loadtests/locustfile.py,loadtests/users.py).
COPY --chown=chaoslab:chaoslab loadtests ./loadtests
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER chaoslab:chaoslab
EXPOSE 8000 8001 8089 9099
CMD ["python", "-m", "target_app", "serve", "--host", "0.0.0.0", "--port", "8000"]
