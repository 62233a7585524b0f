# Sargas in a container: `docker build -t sargas .` then e.g.
#   docker run --rm -p 8000:8000 sargas                          (everything: sargas up)
#   docker run --rm sargas sargas sim default --broker mqtt://host:1883
# docker-compose.yml runs the parts against Mosquitto.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY fusion ./fusion
COPY simulators ./simulators
COPY api ./api
RUN pip install . \
    && useradd --create-home --uid 10001 sargas \
    && mkdir /data && chown sargas:sargas /data

USER sargas
WORKDIR /data
EXPOSE 8000
CMD ["sargas", "up", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data", "--no-open"]
