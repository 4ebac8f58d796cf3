"""Settings of the BI front (the TRACKTRACKER_SUPERSET_*, SQLLAB_* and SUPERSET_SECRET_KEY variables).

They are documented with every other setting in tracktracker_assets/settings.py. They are read here,
apart from Settings, because superset_config.py imports this module inside Superset's own process,
where only the environment matters and nothing heavy may be imported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# settings.py imports only the standard library, so sharing its parsers keeps Superset's start light
from tracktracker_assets.settings import _env
from tracktracker_assets.settings import _env_int as _int

# the upload page's form around the file(s): field names, the CSRF token, multipart boundaries
UPLOAD_FORM_SLACK = 16 << 20


def upload_request_bytes(max_upload_bytes: int) -> int:
    """The largest request the upload page takes (Superset's MAX_CONTENT_LENGTH, and the front's limit)."""
    return max_upload_bytes + UPLOAD_FORM_SLACK


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, which a container's cpuset narrows)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def memory_bytes() -> int | None:
    """Physical memory, or the cgroup's limit when a container sets a lower one; None when unknown."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit() and (physical is None or int(limit) < physical):
        return int(limit)
    return physical


def default_workers(cpus: int, memory: int | None) -> int:
    """Superset worker processes: one per core and per 2 GiB of memory, from one to four.

    Chart requests are mostly Python in Superset (one core per process, whatever its threads): on 2
    cores, 20 listeners opening a dashboard at once waited 24.3 s (p95) with one worker, 18.6 s with two
    (docs/scale-out.md). Each worker imports Superset again (~300 MB, ~8 s of CPU at start).
    """
    by_memory = max(1, memory // (2 << 30)) if memory else 4
    return max(1, min(4, cpus, by_memory))


def default_threads(cpus: int, workers: int) -> int:
    """Threads per worker: four per core shared by the workers, from four to eight.

    A thread is held only while Superset works on a request (the front receives bodies and sends answers
    without one) and mostly waits on PostgreSQL; each holds up to two connections (metadata and
    warehouse), so 4 workers x 8 threads stay well inside PostgreSQL's default of 100.
    """
    return max(4, min(8, 4 * cpus // max(1, workers)))


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise SystemExit(f"{name}={value} must be at least 1; unset it for the default ({default}).")
    return value


def _switch(name: str, *, default: bool) -> bool:
    value = (_env(name) or "").strip().lower()
    if not value:
        return default
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    fallback = "on" if default else "off"
    raise SystemExit(f"{name}={value!r} must be on or off; unset it for the default ({fallback}).")


# Spotify's catalog answers with album covers and artist pictures on this host (every image URL of the
# real Web API responses kept in shared/reference, and of the catalog enrichment stores).
DEFAULT_IMAGE_HOSTS = ("https://i.scdn.co",)
# an origin only: a path, a wildcard or a quote would widen (or break) the content security policy
_ORIGIN = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def image_hosts(value: str | None) -> tuple[str, ...]:
    """The origins the dashboards may load album covers and artist pictures from (the content security
    policy's img-src): a space- or comma-separated list, `none` for no outside host."""
    if value is None or not value.strip():
        return DEFAULT_IMAGE_HOSTS
    if value.strip().lower() == "none":
        return ()
    hosts = tuple(host.rstrip("/") for host in re.split(r"[\s,]+", value.strip()) if host)
    for host in hosts:
        if not _ORIGIN.fullmatch(host):
            raise SystemExit(
                f"TRACKTRACKER_SUPERSET_IMAGE_HOSTS: {host!r} is not an origin such as https://i.scdn.co "
                "(scheme, host and optional port, nothing else); list origins separated by spaces, "
                "`none` for no outside images, or unset it for the default "
                f"({' '.join(DEFAULT_IMAGE_HOSTS)})."
            )
    return hosts


@dataclass(frozen=True)
class BISettings:
    # secrets stay out of repr: a settings object in a log line or traceback must not print them
    admin_password: str | None = field(repr=False)
    reader_password: str | None = field(repr=False)
    secret_key: str | None = field(repr=False)
    public_url: str | None
    workers: int
    threads: int
    cache: bool
    cache_timeout: int
    cache_redis_url: str | None = field(repr=False)  # may carry a password
    sqllab_timeout: int
    sqllab_row_limit: int
    log_level: str
    listener_connections: int
    # the front (dashboards/front.py): request limits, seconds, megabytes, kilobytes per second
    max_body_mb: int
    header_timeout_s: int
    body_grace_s: int
    body_min_rate_kb: int
    body_timeout_s: int
    upload_timeout_s: int
    # origins of album covers and artist pictures the content security policy lets browsers load
    image_hosts: tuple[str, ...]

    @classmethod
    def from_env(cls) -> BISettings:
        public_url = _env("TRACKTRACKER_SUPERSET_PUBLIC_URL")
        cpus = cpu_count()
        workers = _positive("TRACKTRACKER_SUPERSET_WORKERS", default_workers(cpus, memory_bytes()))
        return cls(
            admin_password=_env("TRACKTRACKER_SUPERSET_ADMIN_PASSWORD"),
            reader_password=_env("TRACKTRACKER_SUPERSET_READER_PASSWORD"),
            secret_key=_env("SUPERSET_SECRET_KEY"),
            public_url=public_url.rstrip("/") if public_url else None,
            workers=workers,
            threads=_positive("TRACKTRACKER_SUPERSET_THREADS", default_threads(cpus, workers)),
            cache=_switch("TRACKTRACKER_SUPERSET_CACHE", default=True),
            cache_timeout=_int("TRACKTRACKER_SUPERSET_CACHE_TIMEOUT", 300),
            cache_redis_url=_env("TRACKTRACKER_SUPERSET_CACHE_REDIS_URL"),
            sqllab_timeout=_int("TRACKTRACKER_SQLLAB_TIMEOUT", 60),
            sqllab_row_limit=_int("TRACKTRACKER_SQLLAB_ROW_LIMIT", 100_000),
            log_level=_env("TRACKTRACKER_SUPERSET_LOG_LEVEL", "INFO") or "INFO",
            listener_connections=_int("TRACKTRACKER_LISTENER_CONNECTIONS", 16),
            max_body_mb=_positive("TRACKTRACKER_SUPERSET_MAX_BODY_MB", 16),
            header_timeout_s=_positive("TRACKTRACKER_SUPERSET_HEADER_TIMEOUT_S", 20),
            body_grace_s=_positive("TRACKTRACKER_SUPERSET_BODY_GRACE_S", 10),
            body_min_rate_kb=_positive("TRACKTRACKER_SUPERSET_BODY_MIN_RATE_KB", 16),
            body_timeout_s=_positive("TRACKTRACKER_SUPERSET_BODY_TIMEOUT_S", 60),
            upload_timeout_s=_positive("TRACKTRACKER_SUPERSET_UPLOAD_TIMEOUT_S", 3600),
            image_hosts=image_hosts(_env("TRACKTRACKER_SUPERSET_IMAGE_HOSTS")),
        )


def bi_settings() -> BISettings:
    return BISettings.from_env()
