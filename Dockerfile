# The TTAI worker image (also runs the codec server: `python -m ttai.temporal.codec_server`).
# Configuration comes from the environment only; see docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TTAI_STATE_DIR=/home/ttai/state

WORKDIR /app

# Dependencies first (hash-checked lock file) so code edits reuse this layer.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ttai \
    && mkdir -p /home/ttai/state && chown ttai:ttai /home/ttai/state

COPY --chown=root:root . .

USER ttai

# SIGTERM drains the worker (running activities get time to finish).
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
