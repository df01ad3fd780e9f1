# The TTAI worker image (also runs the codec server: `python -m ttai.temporal.codec_server`,
# and the database setup: `python -m ttai.db.provision`).
# Configuration comes from the environment only; see docs/configuration.md.
#
# Base image pinned by digest: python:3.11-slim, the multi-arch index listed
# by docker-library/repo-info for the build of 2026-08-05 (Python 3.11.15,
# Debian trixie). Bump tag and digest together.
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TTAI_STATE_DIR=/home/ttai/state

WORKDIR /app

# Dependencies first (hash-checked lock files) so code edits reuse this layer.
# As in `make venv`, the image's pip installs only the pinned installer (uv),
# which installs requirements.lock: the runtime packages, no test or dev tools.
COPY requirements-installer.lock requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements-installer.lock \
    && uv pip install --system --no-config --require-hashes -r requirements.lock --compile-bytecode \
    && pip uninstall --yes uv

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ttai \
    && mkdir -p -m 0700 /home/ttai/state && chown ttai:ttai /home/ttai/state

# .dockerignore keeps tests, local state and secret-looking files out.
COPY --chown=root:root . .

USER ttai

# SIGTERM drains the worker (running activities get time to finish).
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
