# API image: `grader migrate`, then `grader serve` (docker-compose.yml runs them as separate
# services, plus `grader worker`). Runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GRADER_HOST=0.0.0.0 \
    GRADER_PORT=8000

WORKDIR /app
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY service ./service
COPY migrations ./migrations
COPY rubrics ./rubrics
# Editable install keeps migrations/ and alembic.ini beside the package, where
# `grader migrate` looks for them; it also installs the `grader` command.
RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin grader \
    && mkdir -p /app/data && chown grader /app/data
USER 10001

EXPOSE 8000
# Shell form, so $GRADER_PORT is read when the check runs: a container started with
# another GRADER_PORT is probed where it listens. /healthz: the process answers; the
# compose file probes /readyz (database reachable too).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${GRADER_PORT:-8000}/healthz', timeout=2)"
CMD ["sh", "-c", "grader migrate && exec grader serve"]
