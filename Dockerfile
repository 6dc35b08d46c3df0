# syntax=docker/dockerfile:1
# The information sharing assistant: one aiohttp server for the web chat, Slack and Teams.
#   docker build -t infoshare-bot .
#   docker run -p 3978:3978 -e DATABASE_URL=postgresql://user:pass@db:5432/infoshare infoshare-bot
# See compose.yaml for the bot with PostgreSQL, and README "Production deployment".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/app/.venv/bin:${PATH}" \
    HOST=0.0.0.0 \
    PORT=3978

RUN groupadd --system --gid 10001 infoshare \
 && useradd --system --uid 10001 --gid infoshare --home-dir /app --shell /usr/sbin/nologin infoshare

WORKDIR /app

# Dependencies first (cached until requirements.txt changes). The project's own bootstrap builds
# /app/.venv and stamps it, so `python app.py` finds everything installed and never pip-installs
# at run time.
COPY requirements.txt ./
COPY scripts/ ./scripts/
RUN python -c "from scripts.bootstrap import ensure_venv; ensure_venv(['requirements.txt'], ['-c', 'pass'])"

COPY . .
RUN mkdir -p /app/data && chown -R infoshare:infoshare /app/data \
 && python -m bot content check

USER infoshare
EXPOSE 3978
VOLUME ["/app/data"]

# Liveness: /healthz answers while the process serves (readiness, /readyz, also checks the database).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3978'), timeout=4)"]

# aiohttp handles SIGTERM: stop accepting, finish in-flight turns (15 s), stop background tasks.
STOPSIGNAL SIGTERM
CMD ["python", "app.py"]
