# syntax=docker/dockerfile:1
#
# Rasd worker image: one image for all four services; the service is the command.
#
#   docker build -t rasd .
#   docker run --rm -e RASD_BOOTSTRAP_SERVERS=kafka:9092 rasd worker deduplicator
#
# Stage 1 installs the project and its dependencies into a virtualenv; stage 2 copies only
# that virtualenv and the source onto a clean slim image (no pip cache, no build tools) and
# runs as an unprivileged user.  Both stages use the same base so the venv's interpreter
# path (/usr/local/bin/python3.11) exists in the runtime image.

FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, read from pyproject.toml, so this layer is cached while only the code changes.
COPY pyproject.toml README.md* LICENSE NOTICE ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (a regular, non-editable install: the venv is self-contained).
COPY rasd ./rasd
COPY schemas ./schemas
COPY services ./services
RUN pip install --no-deps . \
    && cd / && python -c "import rasd, schemas, services"


FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RASD_METRICS_HOST=0.0.0.0 \
    RASD_DATA_DIR=/var/lib/rasd

RUN groupadd --system --gid 10001 rasd \
    && useradd --system --uid 10001 --gid rasd --home-dir /var/lib/rasd --no-create-home \
        --shell /usr/sbin/nologin rasd \
    && mkdir -p /var/lib/rasd \
    && chown rasd:rasd /var/lib/rasd
# (/var/lib/rasd holds Faust table state; a named volume mounted there inherits this ownership.)

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# LICENSE and NOTICE (the data's licenses and attributions) travel with the image.
COPY pyproject.toml LICENSE NOTICE ./
COPY rasd ./rasd
COPY schemas ./schemas
COPY services ./services

# Prometheus metrics: normalizer, deduplicator, entities, alerter (RASD_<SERVICE>_METRICS_PORT).
EXPOSE 9101 9102 9103 9104 9105

USER 10001:10001

ENTRYPOINT ["rasd"]
CMD ["worker", "normalizer"]
