# API image. The same commands as `make run`: migrate, then serve.
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
# `python -m service migrate` looks for them.
RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --system --uid 10001 grader \
    && mkdir -p /app/data && chown grader /app/data
USER grader

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "python -m service migrate && exec python -m service serve"]
