FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/clusterbuy.db CACHE_DIR=/data/cache

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && pip uninstall -y clusterbuy
COPY . .
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 clusterbuy && mkdir -p /data && chown clusterbuy /data

USER clusterbuy
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "clusterbuy db upgrade && clusterbuy serve --host 0.0.0.0"]
