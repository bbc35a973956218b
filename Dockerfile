# Paperboy in a container. Build: `docker build -t paperboy .` (podman: add `--format docker`, or
# podman drops the HEALTHCHECK). Without a registry, start from Debian's own packages instead:
# `podman build --format docker --build-arg BASE=$(scripts/base-image.sh) -t paperboy .`
# Run:   `docker run -d --env-file .env -v paperboy-data:/data paperboy`  (or `docker compose up -d`, with Postgres)
ARG BASE=python:3.11-slim

# The dependency list alone, read from pyproject.toml in a stage of its own: the slow install layer
# below copies only this file, and a COPY's cache is keyed on the file's content (and mode), so a change
# elsewhere in pyproject.toml (a tool setting, the version) reruns this small stage and the code's
# layers, not the install of every dependency.
FROM ${BASE} AS deps
COPY pyproject.toml /
RUN python3 -c "import tomllib; print(*tomllib.load(open('/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
    > /requirements.txt

FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# tini as PID 1 hands SIGTERM to Paperboy and reaps zombies: the kernel ignores signals a PID 1 has no
# handler for, so a bare `paperboy doctor` (or the bot before its handlers are in) would sit out
# `docker stop` until SIGKILL. The debootstrap base (scripts/base-image.sh) has it already.
RUN command -v tini >/dev/null || { apt-get update && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*; }

# A user of its own, group and ids fixed (10001, out of any system range, so no useradd warning): the
# bot needs no root, so a break-in gets none. /data holds the SQLite file (when PAPERBOY_DATABASE is
# not a postgresql:// URL); being the working directory, a relative PAPERBOY_DATABASE lands there too.
RUN groupadd --gid 10001 paperboy \
    && useradd --uid 10001 --gid paperboy --no-log-init --create-home --home-dir /home/paperboy \
       --shell /usr/sbin/nologin paperboy \
    && mkdir /data && chown paperboy:paperboy /data

# A virtual environment works the same on either base (Debian's python3 refuses a global pip install).
RUN python3 -m venv /opt/paperboy
ENV PATH=/opt/paperboy/bin:$PATH

# The dependencies first, from the deps stage's list: this slow layer is rebuilt only when they change.
# Behind a proxy that re-signs TLS, hand pip its CA bundle for this step only (kept out of the image):
# `--secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt`.
COPY --from=deps /requirements.txt /tmp/
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && pip install --quiet 'setuptools>=68' -r /tmp/requirements.txt && rm /tmp/requirements.txt

# Then the code: pyproject.toml and only the files it names.
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY adapters /src/adapters
COPY storage /src/storage
COPY paperboy_testing /src/paperboy_testing
RUN pip install --quiet --no-deps --no-build-isolation /src && rm -rf /src

USER paperboy
WORKDIR /data
VOLUME /data

# The log goes to standard error (`docker logs`); /healthz and /metrics on 8080; Slack HTTP mode on 3000.
ENV PAPERBOY_DATABASE=/data/paperboy.db \
    PAPERBOY_LOG_FILE=- \
    PAPERBOY_HEALTH_PORT=8080
EXPOSE 8080 3000

# No curl in the image: Python asks. /healthz answers 503 when the database does not answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PAPERBOY_HEALTH_PORT}/healthz', timeout=4)"

# SIGTERM (docker stop) lets the sends in flight finish, up to 10 s: give it `docker stop -t 30` (compose.yaml does).
ENTRYPOINT ["tini", "--"]
CMD ["paperboy", "run"]
