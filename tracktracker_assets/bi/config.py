"""Settings of the BI front (the TRACKTRACKER_SUPERSET_*, SQLLAB_* and SUPERSET_SECRET_KEY variables).

They are documented with every other setting in tracktracker_assets/settings.py. They are read here,
apart from Settings, because superset_config.py imports this module inside Superset's own process,
where only the environment matters and nothing heavy may be imported.
"""

from __future__ import annotations

from dataclasses import dataclass

# settings.py imports only the standard library, so sharing its parsers keeps Superset's start light
from tracktracker_assets.settings import _env
from tracktracker_assets.settings import _env_int as _int


@dataclass(frozen=True)
class BISettings:
    admin_password: str | None
    reader_password: str | None
    secret_key: str | None
    public_url: str | None
    workers: int
    threads: int
    cache: bool
    cache_timeout: int
    sqllab_timeout: int
    sqllab_row_limit: int
    log_level: str
    listener_connections: int

    @classmethod
    def from_env(cls) -> BISettings:
        public_url = _env("TRACKTRACKER_SUPERSET_PUBLIC_URL")
        return cls(
            admin_password=_env("TRACKTRACKER_SUPERSET_ADMIN_PASSWORD"),
            reader_password=_env("TRACKTRACKER_SUPERSET_READER_PASSWORD"),
            secret_key=_env("SUPERSET_SECRET_KEY"),
            public_url=public_url.rstrip("/") if public_url else None,
            workers=_int("TRACKTRACKER_SUPERSET_WORKERS", 1),
            threads=_int("TRACKTRACKER_SUPERSET_THREADS", 8),
            cache=(_env("TRACKTRACKER_SUPERSET_CACHE", "off") or "off").lower() in ("on", "1", "true", "yes"),
            cache_timeout=_int("TRACKTRACKER_SUPERSET_CACHE_TIMEOUT", 300),
            sqllab_timeout=_int("TRACKTRACKER_SQLLAB_TIMEOUT", 60),
            sqllab_row_limit=_int("TRACKTRACKER_SQLLAB_ROW_LIMIT", 100_000),
            log_level=_env("TRACKTRACKER_SUPERSET_LOG_LEVEL", "INFO") or "INFO",
            listener_connections=_int("TRACKTRACKER_LISTENER_CONNECTIONS", 16),
        )


def bi_settings() -> BISettings:
    return BISettings.from_env()
