# Paperboy in a container. Build: `docker build -t paperboy .`
# Run:   `docker run -d --env-file .env -v paperboy-data:/data paperboy`  (or `docker compose up -d`, with Postgres)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: the code and the files pyproject.toml names.
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY adapters /src/adapters
COPY storage /src/storage
RUN pip install /src && rm -rf /src

# A user of its own: the bot needs no root, so a break-in gets none. /data holds the SQLite file
# (when PAPERBOY_DATABASE is not a postgresql:// URL); being the working directory, a relative
# PAPERBOY_DATABASE from a copied .env.example lands there too.
RUN useradd --system --uid 10001 --create-home --home-dir /home/paperboy --shell /usr/sbin/nologin paperboy \
    && mkdir /data && chown paperboy:paperboy /data
USER paperboy
WORKDIR /data
VOLUME /data

# The log goes to standard error (`docker logs`); /healthz and /metrics on 8080; Slack HTTP mode on 3000.
ENV PAPERBOY_DATABASE=/data/paperboy.db \
    PAPERBOY_LOG_FILE=- \
    PAPERBOY_HEALTH_PORT=8080
EXPOSE 8080 3000

# The slim image has no curl: Python asks. /healthz answers 503 when the database does not answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PAPERBOY_HEALTH_PORT}/healthz', timeout=4)"

# SIGTERM (docker stop) lets the sends in flight finish, up to 10 s: give it `docker stop -t 30` (compose.yaml does).
CMD ["paperboy", "run"]
