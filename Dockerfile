# The TrackTracker image: the locked environment (uv.lock) and the code; a broken dbt project fails the
# build at `dbt parse` (the running services keep their parse in the data volume, under /data/dbt).
# docker-compose.yml runs every service from it: init, Dagster user code, webserver, daemon, Superset.
FROM python:3.12-slim

ENV UV_PROJECT_ENVIRONMENT=/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRACKTRACKER_HOME=/data

RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 1000 tracktracker \
    && mkdir -p /data && chown tracktracker /data

WORKDIR /app
# dependencies first: they change less often than the code
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
    && dbt parse --quiet --project-dir dbt --profiles-dir dbt \
    && chown -R tracktracker /app/dbt

USER tracktracker
EXPOSE 3000 4000 8088
# every service (Dagster's code server and daemon too, which do not start through the CLI) writes the
# /data volume with umask 077: listeners' files and logs are private (tracktracker_assets/services/home.py)
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["tracktracker", "--help"]
